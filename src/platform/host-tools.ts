import { spawnSync } from 'node:child_process';
import { AloftError } from '../lib/errors.ts';

/** A program the platform runs, and the Debian package that brings it. */
export interface HostTool {
  binary: string;
  aptPackage: string;
  why: string;
}

/** What `aloft up` needs on the host for the given runtime. */
export function requiredTools(runtime: 'runsc' | 'runc'): HostTool[] {
  return [
    runtime === 'runsc'
      ? { binary: 'runsc', aptPackage: 'runsc', why: 'runs Machines in gVisor sandboxes' }
      : { binary: 'runc', aptPackage: 'runc', why: 'runs Machines as containers' },
    { binary: 'ip', aptPackage: 'iproute2', why: 'gives each Machine its network' },
    { binary: 'busybox', aptPackage: 'busybox-static', why: 'builds the example app image' },
    { binary: 'nsenter', aptPackage: 'util-linux', why: "enters Machines' network namespaces" },
    { binary: 'wireguard-go', aptPackage: 'wireguard-go', why: "joins this host to the private network's WireGuard mesh" },
    { binary: 'nft', aptPackage: 'nftables', why: "keeps each org's private network apart (firewall rules)" },
  ];
}

export function missingTools(tools: HostTool[]): HostTool[] {
  return tools.filter((t) => spawnSync('sh', ['-c', `command -v ${t.binary}`], { stdio: 'ignore' }).status !== 0);
}

/**
 * Installs missing tools with apt, saying what and why. Only as root on a machine with
 * apt-get; otherwise a clear error with the command to run.
 */
export function installMissingTools(tools: HostTool[], say: (line: string) => void): void {
  const missing = missingTools(tools);
  if (missing.length === 0) return;
  const packages = [...new Set(missing.map((t) => t.aptPackage))];
  const command = `apt-get install -y --no-install-recommends ${packages.join(' ')}`;
  if (process.getuid?.() !== 0 || spawnSync('sh', ['-c', 'command -v apt-get'], { stdio: 'ignore' }).status !== 0) {
    throw new AloftError('RUNTIME_MISSING', `Cannot start aloft as ${missing.map((t) => t.binary).join(', ')} must be installed: run '${command}' as root`);
  }
  for (const t of missing) say(`Installing ${t.aptPackage} (${t.binary}: ${t.why})`);
  const update = spawnSync('apt-get', ['update', '-qq'], { stdio: ['ignore', 'ignore', 'inherit'] });
  const install = spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...packages], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  if (update.status !== 0 || install.status !== 0) throw new AloftError('RUNTIME_MISSING', `Cannot install ${packages.join(' ')}: '${command}' failed`);
}
