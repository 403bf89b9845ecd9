import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, openSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute } from 'node:path';
import { commandFailed, execCommand, tail, type CommandRunner } from '../../lib/command.ts';
import { AloftError, invalidField } from '../../lib/errors.ts';
import { BirdClient } from './birdc.ts';

/** Options of {@link Bird}. */
export interface BirdOptions {
  /** A network namespace (a name under /run/netns) to run in; the caller's when absent. */
  netns?: string | undefined;
  /** bird's own control socket: each bird on a machine needs its own. */
  socketPath: string;
  /** Where the config is written (atomically) before start. */
  configPath: string;
  /** The config text (see bird-config.ts / edge-config.ts). */
  config: string;
  /** bird's stdout and stderr go here (appended); discarded when absent. */
  outputFile?: string;
  /**
   * Detached: bird outlives this process (the lab's routers outlive `aloft lab up`);
   * it is stopped later by its PID. Attached (default): it is this process's child.
   */
  detached?: boolean;
  /** How long bird may take to answer on its socket (default 10 s). */
  readyTimeoutMs?: number;
  run?: CommandRunner;
}

const NETNS = /^[A-Za-z0-9_.-]{1,64}$/;
const STOP_TIMEOUT_MS = 5000;

/**
 * One bird2 daemon: the config checked by `bird -p` and written atomically, then
 * `bird -f -s SOCK -c CONF` started (inside `netns` through `ip netns exec`, which execs
 * bird, so the child's PID is bird's), ready when its socket answers; stopped by PID
 * (SIGTERM, SIGKILL after 5 s).
 */
export class Bird {
  readonly client: BirdClient;
  readonly #options: BirdOptions;
  readonly #run: CommandRunner;
  #pid: number | undefined;

  constructor(options: BirdOptions) {
    if (options.netns !== undefined && !NETNS.test(options.netns)) throw invalidField('start bird', 'netns', 'a namespace name of 1 to 64 of [A-Za-z0-9_.-]', options.netns);
    if (!isAbsolute(options.configPath)) throw invalidField('start bird', 'configPath', 'an absolute path', options.configPath);
    this.client = new BirdClient(options.socketPath, options.run);
    this.#options = options;
    this.#run = options.run ?? execCommand;
  }

  /** bird's PID while it runs (set after start). */
  get pid(): number | undefined {
    return this.#pid;
  }

  /** Checks and writes the config, starts bird and waits until it answers; BIRD_FAILED (nothing left running) when it cannot. */
  async start(): Promise<number> {
    if (this.#pid !== undefined) throw new AloftError('BIRD_FAILED', `Cannot start bird on ${this.#options.socketPath} as it is already started (pid ${this.#pid})`);
    const { configPath, socketPath, netns } = this.#options;
    await mkdir(dirname(configPath), { recursive: true });
    await mkdir(dirname(socketPath), { recursive: true });
    const temp = `${configPath}.${process.pid}.tmp`;
    await writeFile(temp, this.#options.config, { mode: 0o644 });
    try {
      const check = await this.#run('bird', ['-p', '-c', temp], { timeoutMs: 10_000, errorCode: 'BIRD_FAILED' }).catch((err: unknown) => {
        throw missingBird(err);
      });
      if (check.code !== 0) throw commandFailed('bird', ['-p', '-c', configPath], check, 'BIRD_FAILED');
      await rename(temp, configPath);
    } finally {
      await rm(temp, { force: true });
    }
    // A socket left by a killed bird would look ready before this one listens.
    await rm(socketPath, { force: true });
    const argv = ['bird', '-f', '-s', socketPath, '-c', configPath];
    const full = netns === undefined ? argv : ['ip', 'netns', 'exec', netns, ...argv];
    const out = this.#options.outputFile === undefined ? 'ignore' : openSync(this.#options.outputFile, 'a');
    let child: ChildProcess;
    try {
      child = spawn(full[0]!, full.slice(1), { stdio: ['ignore', out, out], detached: this.#options.detached === true });
    } finally {
      if (typeof out === 'number') closeSync(out);
    }
    const spawned = await Promise.race([once(child, 'spawn').then(() => undefined), once(child, 'error').then(([err]) => err as Error)]);
    if (spawned !== undefined) throw missingBird(spawned);
    this.#pid = child.pid;
    if (this.#options.detached === true) child.unref();
    try {
      await this.#waitReady(child);
    } catch (err) {
      await this.stop();
      throw err;
    }
    return child.pid!;
  }

  /** Stops bird by PID (SIGTERM, then SIGKILL) and removes its socket. Idempotent. */
  async stop(): Promise<void> {
    const pid = this.#pid;
    this.#pid = undefined;
    if (pid !== undefined) await stopPid(pid, STOP_TIMEOUT_MS);
    await rm(this.#options.socketPath, { force: true });
  }

  async #waitReady(child: ChildProcess): Promise<void> {
    const deadline = Date.now() + (this.#options.readyTimeoutMs ?? 10_000);
    let exited = false;
    child.once('exit', () => (exited = true));
    let delay = 10;
    while (Date.now() < deadline) {
      if (exited) throw new AloftError('BIRD_FAILED', `Cannot start bird on ${this.#options.socketPath} as it must keep running: it exited (see ${this.#options.outputFile ?? 'its stderr'})`);
      if (await this.client.ping()) return;
      // bird opens its socket within a few ms of starting; back off gently meanwhile.
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, 200);
    }
    throw new AloftError('BIRD_FAILED', `Cannot start bird on ${this.#options.socketPath} as it must answer on its socket: no answer within ${this.#options.readyTimeoutMs ?? 10_000} ms`);
  }
}

/**
 * Sends SIGTERM to `pid`, waits for it to be gone (or a zombie), then SIGKILL. For
 * processes this code started only: callers pass PIDs they recorded.
 */
export async function stopPid(pid: number, timeoutMs = STOP_TIMEOUT_MS): Promise<void> {
  if (!signal(pid, 'SIGTERM')) return;
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!(await alive(pid))) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  signal(pid, 'SIGKILL');
  while (await alive(pid)) await new Promise((resolve) => setTimeout(resolve, 20));
}

function signal(pid: number, sig: NodeJS.Signals): boolean {
  try {
    process.kill(pid, sig);
    return true;
  } catch {
    return false;
  }
}

/** Alive: exists and is not a zombie waiting to be reaped. */
async function alive(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

function missingBird(err: unknown): AloftError {
  if (err instanceof AloftError && !/ENOENT/.test(err.message)) return err;
  return new AloftError('BIRD_FAILED', `Cannot start bird as 'bird' must be installed (Debian: apt-get install bird2): ${tail(String(err instanceof Error ? err.message : err), 200)}`, {
    cause: err,
  });
}
