import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiClient } from '../../src/cli/api-client.ts';
import { freePort } from '../../src/lib/testing/free-port.ts';
import { meshInterfaceFor, tableFor } from '../../src/platform/private-network.ts';

const ROOT = join(import.meta.dirname, '..', '..');


export interface PlatformProcessOptions {
  dataDir: string;
  apiPort: number;
  proxyPort: number;
  /** Default 0: any free port, so tests never clash on the registry's 5000. */
  registryPort?: number;
  bridge: string;
  ipv4Subnet: string;
  hostNumber: number;
  runtime?: 'runsc' | 'runc';
  /** More `aloft up` flags (e.g. `--autostop-interval 2s`). */
  upArgs?: string[];
}

/** `aloft up --no-example` as a child process, as a user would run it. */
export class PlatformProcess {
  child: ChildProcess | undefined;
  output = '';

  constructor(readonly options: PlatformProcessOptions) {}

  args(): string[] {
    const o = this.options;
    return [
      join(ROOT, 'bin', 'aloft.js'), 'up', '--no-example',
      '--data-dir', o.dataDir, '--api-port', String(o.apiPort), '--proxy-port', String(o.proxyPort),
      '--registry-port', String(o.registryPort ?? 0), '--tls-port', '0', '--mesh-port', '0',
      '--bridge', o.bridge, '--ipv4-subnet', o.ipv4Subnet, '--host-number', String(o.hostNumber),
      '--runtime', o.runtime ?? 'runsc',
      ...(o.upArgs ?? []),
    ];
  }

  /** Starts it and resolves once it says it is up; rejects with its output if it exits first. */
  start(): Promise<void> {
    const child = spawn(process.execPath, this.args(), { env: { ...process.env, ALOFT_LOG: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    this.output = '';
    return new Promise((resolve, reject) => {
      const onData = (chunk: Buffer): void => {
        this.output += chunk.toString();
        if (this.output.includes('aloft is up')) resolve();
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.once('exit', (code) => reject(new Error(`aloft up exited with ${code} before it was up:\n${this.output}`)));
    });
  }

  /** Sends `signal` and resolves with the exit code. */
  stop(signal: NodeJS.Signals): Promise<number | null> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child?.exitCode ?? null);
    return new Promise((resolve) => {
      child.once('exit', (code) => resolve(code));
      child.kill(signal);
    });
  }

  get token(): string {
    return readFileSync(join(this.options.dataDir, 'api-token'), 'utf8').trim();
  }
}

/**
 * Removes everything a test platform may have left on the host, by name: its sandboxes
 * (under its own runsc root), the netns of the machines it ran, its bridge, its mounts.
 */
export function cleanUpHost(options: PlatformProcessOptions, machineIds: Iterable<string>): void {
  const runtime = options.runtime ?? 'runsc';
  const stateRoot = join(options.dataDir, runtime);
  const listed = spawnSync(runtime, ['--root', stateRoot, 'list', '--quiet'], { encoding: 'utf8' });
  for (const id of (listed.stdout ?? '').split('\n').filter(Boolean)) {
    spawnSync(runtime, ['--root', stateRoot, 'kill', id, 'KILL'], { stdio: 'ignore' });
    spawnSync(runtime, ['--root', stateRoot, 'delete', '--force', id], { stdio: 'ignore' });
  }
  killMicrovms(join(options.dataDir, 'microvm'));
  for (const id of machineIds) spawnSync('ip', ['netns', 'del', `aloft-${id}`], { stdio: 'ignore' });
  spawnSync('ip', ['link', 'del', options.bridge], { stdio: 'ignore' });
  // The private network's parts named after the bridge (platform/private-network.ts):
  // deleting its WireGuard interface makes a wireguard-go left by a killed platform exit.
  spawnSync('ip', ['link', 'del', meshInterfaceFor(options.bridge)], { stdio: 'ignore' });
  for (const family of ['inet', 'bridge']) spawnSync('nft', ['delete', 'table', family, tableFor(options.bridge)], { stdio: 'ignore' });
  const mounts = readFileSync('/proc/mounts', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[1] ?? '')
    .filter((mountPoint) => mountPoint.startsWith(options.dataDir))
    .reverse();
  for (const mountPoint of mounts) spawnSync('umount', ['-l', mountPoint], { stdio: 'ignore' });
}

/**
 * Kills the QEMU processes (and their supervisors) of microVM Machines under `stateRoot`,
 * by the pids their state dirs record, each checked to be QEMU or its supervisor for
 * that very dir, so a recycled pid is never killed.
 */
function killMicrovms(stateRoot: string): void {
  let ids: string[] = [];
  try {
    ids = readdirSync(stateRoot);
  } catch {
    return;
  }
  for (const id of ids) {
    for (const [file, mark] of [['supervisor.pid', 'sh'], ['qemu.pid', 'qemu']] as const) {
      const dir = findFile(join(stateRoot, id), file);
      if (!dir) continue;
      const pid = Number(readFileSync(join(dir, file), 'utf8').trim());
      let cmdline = '';
      try {
        cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      } catch {
        continue;
      }
      if (pid > 1 && cmdline.includes(mark) && cmdline.includes(stateRoot)) process.kill(pid, 'SIGKILL');
    }
  }
}

/** The directory under `dir` (itself or one level down) that holds `name`. */
function findFile(dir: string, name: string): string | undefined {
  if (existsSync(join(dir, name))) return dir;
  try {
    return readdirSync(dir).map((sub) => join(dir, sub)).find((sub) => existsSync(join(sub, name)));
  } catch {
    return undefined;
  }
}

/** A running `aloft up` for one e2e file, with everything needed to reach and remove it. */
export interface TestPlatform {
  platform: PlatformProcess;
  client: ApiClient;
  dataDir: string;
  /** Machines the test created: their netns are removed by name at the end. */
  machineIds: Set<string>;
  /** Kills the platform and removes all it left on the host. */
  close(): Promise<void>;
}

/**
 * Starts `aloft up --no-example` in a fresh data dir, on free ports, with a bridge,
 * subnet and host number of its own (`name`, at most 6 characters, keeps bridge names
 * apart between files), so it never collides with a dev platform or another test.
 */
export async function startTestPlatform(name: string, upArgs: string[] = []): Promise<TestPlatform> {
  const dataDir = await mkdtemp(join(tmpdir(), `aloft-e2e-${name}-`));
  const suffix = Math.floor(Math.random() * 200) + 20;
  const platform = new PlatformProcess({
    dataDir,
    apiPort: await freePort(),
    proxyPort: await freePort(),
    registryPort: await freePort(),
    bridge: `alt${name.slice(0, 6)}${suffix}`,
    ipv4Subnet: `172.${16 + (suffix % 16)}.${suffix}.0/24`,
    hostNumber: 1000 + suffix,
    upArgs,
  });
  const machineIds = new Set<string>();
  const close = async (): Promise<void> => {
    await platform.stop('SIGKILL');
    cleanUpHost(platform.options, machineIds);
    await rm(dataDir, { recursive: true, force: true });
  };
  try {
    await platform.start();
  } catch (err) {
    await close();
    throw err;
  }
  const client = new ApiClient({ baseUrl: `http://127.0.0.1:${platform.options.apiPort}`, token: platform.token });
  return { platform, client, dataDir, machineIds, close };
}
