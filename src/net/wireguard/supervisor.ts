import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter, once } from 'node:events';
import { watch } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { tail } from '../../lib/command.ts';
import { AloftError, invalidField, toAloftError } from '../../lib/errors.ts';
import { silentLogger, type Logger } from '../../lib/log.ts';
import { findWireguardGo } from './find-binary.ts';
import { UapiClient } from './uapi-client.ts';

/** Options of {@link WireguardSupervisor}. */
export interface WireguardSupervisorOptions {
  /** The tunnel interface wireguard-go creates (≤15 characters). */
  iface: string;
  /** Network namespace (a name under /var/run/netns) to run in; the root one when absent. */
  netns?: string | undefined;
  /**
   * This host's own directory for the UAPI socket (`<socketDir>/<iface>.sock`).
   * wireguard-go always listens in /var/run/wireguard; each daemon gets a private mount
   * namespace with this directory bound there, so hosts sharing a machine never share
   * (or clobber) a socket even when their interfaces have the same name.
   */
  socketDir: string;
  /** The program (default `wireguard-go` on PATH). */
  binary?: string;
  /**
   * Configures a freshly started daemon (key, port, addresses, peers): a restarted
   * wireguard-go comes up empty. Runs after every start, before `ready` is emitted.
   */
  onStart?: (client: UapiClient) => Promise<void>;
  /** Restart delays: doubling from `initialMs` up to `maxMs` (default 100 ms → 10 s). */
  backoff?: { initialMs: number; maxMs: number };
  /** How long a start may take to answer on its socket (default 10 s). */
  readyTimeoutMs?: number;
  log?: Logger;
}

/** What {@link WireguardSupervisor} emits. */
export interface WireguardSupervisorEvents {
  /** A daemon answers on its socket and `onStart` has configured it. */
  ready: [{ pid: number; starts: number }];
  /** A daemon exited while it should have been running (a restart follows). */
  exit: [{ pid: number; code: number | null; signal: NodeJS.Signals | null }];
  /** A restart failed (another follows after the backoff). */
  error: [Error];
}

/** Where wireguard-go puts its sockets, hard-coded in it. */
const WIREGUARD_SOCKET_DIR = '/var/run/wireguard';
/** wireguard-go's verbose log line once its UAPI socket listens. */
const READY_LINE = 'UAPI listener started';
/** A daemon that ran this long was healthy: the backoff starts over after it. */
const STABLE_MS = 10_000;
const STOP_TIMEOUT_MS = 5000;
const IFNAME = /^[A-Za-z0-9_.-]{1,15}$/;
const NETNS_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

// Binds the host's socket directory over /var/run/wireguard in a mount namespace of the
// daemon's own (`ip netns exec` and `unshare -m` both give one), then becomes wireguard-go,
// so the child's PID is the daemon's. Arguments are positional: nothing is interpolated.
const LAUNCH = 'mount --bind "$1" "$2" && exec "$3" -f "$4"';

/**
 * Runs one wireguard-go for one interface and keeps it running: started in its netns,
 * ready when its UAPI socket answers, configured by `onStart`, restarted with a bounded
 * backoff when it dies, stopped by PID (SIGTERM, then SIGKILL after 5 s).
 */
export class WireguardSupervisor extends EventEmitter<WireguardSupervisorEvents> {
  readonly iface: string;
  readonly netns: string | undefined;
  readonly socketPath: string;
  readonly client: UapiClient;
  readonly #options: WireguardSupervisorOptions;
  readonly #log: Logger;
  #child: ChildProcess | undefined;
  #stopping = false;
  #starts = 0;
  #failures = 0;
  #timer: NodeJS.Timeout | undefined;
  #launching: Promise<void> | undefined;

  constructor(options: WireguardSupervisorOptions) {
    super();
    if (typeof options.iface !== 'string' || !IFNAME.test(options.iface)) {
      throw invalidField('supervise wireguard-go', 'iface', 'an interface name of 1 to 15 of [A-Za-z0-9_.-]', options.iface);
    }
    if (options.netns !== undefined && !NETNS_NAME.test(options.netns)) {
      throw invalidField('supervise wireguard-go', 'netns', 'a namespace name of 1 to 64 of [A-Za-z0-9_.-]', options.netns);
    }
    if (typeof options.socketDir !== 'string' || !options.socketDir.startsWith('/')) {
      throw invalidField('supervise wireguard-go', 'socketDir', 'an absolute path', options.socketDir);
    }
    this.iface = options.iface;
    this.netns = options.netns;
    this.socketPath = join(options.socketDir, `${options.iface}.sock`);
    this.client = new UapiClient(this.socketPath);
    this.#options = options;
    this.#log = (options.log ?? silentLogger).child({ part: 'wireguard', iface: options.iface, netns: options.netns });
  }

  /** The running daemon's PID, if any. */
  get pid(): number | undefined {
    return this.#child?.exitCode === null && this.#child.signalCode === null ? this.#child.pid : undefined;
  }

  /** Starts the daemon and configures it; throws (and leaves nothing running) when it cannot. */
  async start(): Promise<void> {
    if (this.#child !== undefined) throw new AloftError('WIREGUARD_FAILED', `Cannot start wireguard-go for ${this.iface} as it is already started`);
    this.#stopping = false;
    // Kept, so a stop() that comes while this start is still under way waits for it.
    this.#launching = this.#launch();
    await this.#launching;
  }

  /** Stops the daemon (no restart follows) and removes its socket. Idempotent. */
  async stop(): Promise<void> {
    this.#stopping = true;
    clearTimeout(this.#timer);
    await this.#launching?.catch(() => undefined);
    await this.#kill(this.#child);
    this.#child = undefined;
    await rm(this.socketPath, { force: true });
  }

  async #launch(): Promise<void> {
    const binary = await findWireguardGo(this.#options.binary);
    await mkdir(this.#options.socketDir, { recursive: true, mode: 0o700 });
    // The bind target must exist in the mount namespace the daemon's is copied from.
    await mkdir(WIREGUARD_SOCKET_DIR, { recursive: true, mode: 0o755 });
    // A socket left by a killed daemon would look ready before the new one listens.
    await rm(this.socketPath, { force: true });
    const args = ['sh', '-c', LAUNCH, 'wireguard-go-launch', this.#options.socketDir, WIREGUARD_SOCKET_DIR, binary, this.iface];
    const argv = this.netns === undefined ? ['unshare', '--mount', '--propagation', 'private', ...args] : ['ip', 'netns', 'exec', this.netns, ...args];
    const child = spawn(argv[0]!, argv.slice(1), {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, LOG_LEVEL: 'verbose', WG_PROCESS_FOREGROUND: '1' },
    });
    this.#child = child;
    const startedAt = Date.now();
    let stderr = '';
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      stderr = tail(stderr + chunk, 2000);
    });
    const lines = createInterface({ input: child.stdout! });
    try {
      await this.#waitReady(child, lines, () => stderr);
      await this.#options.onStart?.(this.client);
    } catch (err) {
      lines.close();
      await this.#kill(child);
      if (this.#child === child) this.#child = undefined;
      throw toAloftError(err, 'WIREGUARD_FAILED');
    }
    // From here on its output is only logged (verbose: handshakes and keepalives).
    lines.on('line', (line) => this.#log.debug({ pid: child.pid }, line));
    this.#starts++;
    const pid = child.pid ?? 0;
    child.once('exit', (code, signal) => this.#onExit(child, { pid, code, signal }, startedAt));
    this.#log.info({ pid, starts: this.#starts }, 'wireguard-go ready');
    this.emit('ready', { pid, starts: this.#starts });
  }

  /** Resolves once `get` answers: tried on the ready log line and on the socket appearing. */
  #waitReady(child: ChildProcess, lines: ReturnType<typeof createInterface>, stderr: () => string): Promise<void> {
    const timeoutMs = this.#options.readyTimeoutMs ?? 10_000;
    return new Promise<void>((resolve, reject) => {
      let done = false;
      const finish = (err?: Error): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        watcher.close();
        lines.off('line', onLine);
        child.off('exit', onExit);
        child.off('error', onError);
        if (err) reject(err);
        else resolve();
      };
      const tryGet = (): void => {
        this.client.get().then(
          () => finish(),
          () => undefined, // not listening yet: the next line or file event tries again
        );
      };
      const onLine = (line: string): void => {
        if (line.includes(READY_LINE)) tryGet();
      };
      const onExit = (code: number | null, signal: string | null): void =>
        finish(new AloftError('WIREGUARD_FAILED', `Cannot start wireguard-go for ${this.iface} as it exited (${signal ?? `code ${code}`}) before its socket answered: ${stderr() || 'no output'}`));
      const onError = (err: Error): void => finish(new AloftError('WIREGUARD_FAILED', `Cannot start wireguard-go for ${this.iface}: ${err.message}`, { cause: err }));
      const timer = setTimeout(
        () => finish(new AloftError('WIREGUARD_FAILED', `Cannot start wireguard-go for ${this.iface} as its socket ${this.socketPath} did not answer within ${timeoutMs} ms: ${stderr() || 'no output'}`)),
        timeoutMs,
      );
      const watcher = watch(this.#options.socketDir, (_event, file) => {
        if (file === `${this.iface}.sock`) tryGet();
      });
      lines.on('line', onLine);
      child.once('exit', onExit);
      child.once('error', onError);
    });
  }

  #onExit(child: ChildProcess, exit: { pid: number; code: number | null; signal: NodeJS.Signals | null }, startedAt: number): void {
    if (this.#child !== child) return;
    this.#child = undefined;
    if (this.#stopping) return;
    this.#log.warn(exit, 'wireguard-go exited; restarting');
    if (Date.now() - startedAt >= STABLE_MS) this.#failures = 0;
    this.emit('exit', exit);
    this.#scheduleRestart();
  }

  #scheduleRestart(): void {
    const { initialMs, maxMs } = this.#options.backoff ?? { initialMs: 100, maxMs: 10_000 };
    const delay = Math.min(maxMs, initialMs * 2 ** this.#failures);
    this.#failures++;
    this.#timer = setTimeout(() => {
      if (this.#stopping) return;
      this.#launching = this.#launch().catch((err: unknown) => {
        const error = toAloftError(err, 'WIREGUARD_FAILED');
        this.#log.error({ err: error }, 'wireguard-go restart failed');
        if (this.listenerCount('error') > 0) this.emit('error', error);
        if (!this.#stopping) this.#scheduleRestart();
      });
    }, delay);
  }

  async #kill(child: ChildProcess | undefined): Promise<void> {
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
  }
}
