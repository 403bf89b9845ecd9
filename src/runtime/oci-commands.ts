import type { OciRuntime } from './oci-bundle.ts';

/** How runsc networks a sandbox: its own netstack on eth0 ("sandbox") or the host's ("host"). */
export type RunscNetwork = 'sandbox' | 'host';

/** What one `run` command line needs. */
export interface RunCommandInput {
  runtime: OciRuntime;
  /** The runtime's --root. */
  stateRoot: string;
  runscNetwork: RunscNetwork;
  bundle: string;
  machineId: string;
  pidFile: string;
  /** The runtime's own log (--log, JSON). */
  logFile: string;
  netnsPath: string | null;
}

// HOST.md: runsc refuses sandbox networking when /proc/sys/net/core/rmem_default shows
// in the Machine's netns (kernels ≥ 6.11, gVisor #10704). In a private mount namespace,
// hide that directory as the netns sees it, then exec runsc. Paths come as parameters.
const HIDE_NET_CORE = 'ns=$1; shift; nsenter --net="$ns" mount -t tmpfs hide /proc/sys/net/core && exec "$@"';

/**
 * The foreground `run` command line for one Machine (the monitor in oci-monitor.ts runs
 * it). runc: `run --keep`, so the stopped container stays until `delete`. runsc: with no
 * netns the sandbox gets `--network=none` (loopback only, as runc's fresh netns); with a
 * netns and sandbox networking it runs behind the HOST.md workaround.
 */
export function runCommandLine(input: RunCommandInput): string[] {
  const tail = ['--pid-file', input.pidFile, '--bundle', input.bundle, input.machineId];
  const global = ['--root', input.stateRoot, '--log', input.logFile, '--log-format', 'json'];
  if (input.runtime === 'runc') return ['runc', ...global, 'run', '--keep', ...tail];
  const network = input.netnsPath === null ? 'none' : input.runscNetwork;
  return hideNetCore(input, ['runsc', ...global, `--network=${network}`, 'run', ...tail]);
}

/**
 * The foreground `runsc restore` command line: as `run`, from a checkpoint image in
 * `imageDir` (the monitor runs it, and records its exit as it does for `run`).
 */
export function restoreCommandLine(input: RunCommandInput, imageDir: string): string[] {
  const global = ['--root', input.stateRoot, '--log', input.logFile, '--log-format', 'json'];
  const network = input.netnsPath === null ? 'none' : input.runscNetwork;
  const restore = ['restore', '--image-path', imageDir, '--pid-file', input.pidFile, '--bundle', input.bundle, input.machineId];
  return hideNetCore(input, ['runsc', ...global, `--network=${network}`, ...restore]);
}

/** The `runsc checkpoint` command line; it needs the same netns workaround as `run` (HOST.md). */
export function checkpointCommandLine(input: Pick<RunCommandInput, 'stateRoot' | 'runscNetwork' | 'machineId' | 'netnsPath'>, imageDir: string): string[] {
  return hideNetCore(input, ['runsc', '--root', input.stateRoot, 'checkpoint', '--image-path', imageDir, input.machineId]);
}

/** Wraps a runsc command in the HOST.md workaround when the sandbox has its own netstack on a netns. */
function hideNetCore(input: Pick<RunCommandInput, 'runscNetwork' | 'netnsPath'>, runsc: string[]): string[] {
  if (input.runscNetwork !== 'sandbox' || input.netnsPath === null) return runsc;
  return ['unshare', '-m', '--propagation', 'private', 'sh', '-c', HIDE_NET_CORE, 'aloft-hide-net-core', input.netnsPath, ...runsc];
}

/** True when this run needs eth0's addresses put back first (runsc strips them). */
export function needsEth0Restore(input: Pick<RunCommandInput, 'runtime' | 'runscNetwork' | 'netnsPath'>): boolean {
  return input.runtime === 'runsc' && input.runscNetwork === 'sandbox' && input.netnsPath !== null;
}
