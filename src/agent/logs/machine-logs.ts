import { silentLogger, type Logger } from '../../lib/log.ts';
import { FileFollower } from './file-follower.ts';
import { LineSplitter, type SplitLine } from './line-splitter.ts';
import type { LogReadOptions, MachineLogLine } from './log-line.ts';
import { TailBuffer } from './tail-buffer.ts';

export interface MachineLogsOptions {
  /** The agent's logger: every line goes to it at info, as `{part:'machine-log', machine, app}`. */
  log?: Logger;
  /** Lines kept in memory per Machine (default 1000). */
  keepLines?: number;
  /** Longest line kept, in bytes (default 16 KiB). */
  maxLineBytes?: number;
  /** Size past which a log file is rotated to `.1` (default 16 MiB). */
  rotateBytes?: number;
  /** How long a partial line waits for its newline (default 1 s). */
  flushMs?: number;
  /** How often files are checked without a watch event (default 1 s). */
  pollMs?: number;
  /** Milliseconds since the epoch (tests pin it). */
  now?: () => number;
}

export const DEFAULT_KEEP_LINES = 1000;
export const DEFAULT_MAX_LINE_BYTES = 16 * 1024;
export const DEFAULT_ROTATE_BYTES = 16 * 1024 * 1024;

/** Lines a follower may fall behind by before the oldest are dropped (a slow client must not grow the agent). */
const MAX_QUEUED_LINES = 10_000;

interface Subscriber {
  line: (line: MachineLogLine) => void;
  end: () => void;
}

interface Entry {
  kept: TailBuffer<MachineLogLine>;
  subscribers: Set<Subscriber>;
  follower?: FileFollower;
  splitter?: LineSplitter;
}

/**
 * The output of this host's Machines, line by line: it follows each Machine's log file
 * (`<dataDir>/machines/<id>/machine.log`, where the drivers append the process's
 * stdout/stderr and the microVM's serial console), stamps each line with the time it
 * was read, logs it, keeps the last lines, and passes new ones to subscribers.
 *
 * Following stops when the Machine stops (`unfollow`: the last lines are still read and
 * kept) or is destroyed (`forget`: its lines and subscribers go too).
 */
export class MachineLogs {
  readonly #log: Logger;
  readonly #keepLines: number;
  readonly #maxLineBytes: number;
  readonly #rotateBytes: number;
  readonly #flushMs: number;
  readonly #pollMs: number;
  readonly #now: () => number;
  readonly #entries = new Map<string, Entry>();

  constructor(options: MachineLogsOptions = {}) {
    this.#log = options.log ?? silentLogger;
    this.#keepLines = options.keepLines ?? DEFAULT_KEEP_LINES;
    this.#maxLineBytes = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
    this.#rotateBytes = options.rotateBytes ?? DEFAULT_ROTATE_BYTES;
    this.#flushMs = options.flushMs ?? 1000;
    this.#pollMs = options.pollMs ?? 1000;
    this.#now = options.now ?? Date.now;
  }

  /** Follows a Machine's log file from its current end. Following one already followed changes nothing. */
  async follow(machineId: string, source: { path: string; app?: string }): Promise<void> {
    const entry = this.#entry(machineId);
    if (entry.follower) return;
    const log = this.#log.child({ part: 'machine-log', machine: machineId, ...(source.app ? { app: source.app } : {}) });
    const splitter = new LineSplitter({
      maxLineBytes: this.#maxLineBytes,
      flushMs: this.#flushMs,
      onLine: (line) => this.#publish(machineId, entry, line, log),
    });
    const follower = new FileFollower({
      path: source.path,
      pollMs: this.#pollMs,
      rotateBytes: this.#rotateBytes,
      onData: (chunk) => splitter.push(chunk),
      onError: (err) => log.warn({ err }, 'reading machine log failed'),
      // On the platform's own logger, not the Machine's line stream.
      onRotate: (rotated) => this.#log.info({ part: 'machine-logs', machine: machineId, rotated }, 'machine log rotated'),
    });
    entry.follower = follower;
    entry.splitter = splitter;
    await follower.start();
  }

  /** True while the Machine's file is followed. */
  isFollowing(machineId: string): boolean {
    return this.#entries.get(machineId)?.follower !== undefined;
  }

  /**
   * Stops following (the Machine stopped): reads what its last moments wrote, emits a
   * held partial line, and keeps its lines and subscribers for a later start.
   */
  async unfollow(machineId: string): Promise<void> {
    const entry = this.#entries.get(machineId);
    if (!entry?.follower) return;
    const { follower, splitter } = entry;
    delete entry.follower;
    delete entry.splitter;
    await follower.close();
    splitter?.close();
    this.#dropIfUnused(machineId, entry);
  }

  /** Stops following and forgets the Machine (destroyed): its lines go, and its subscribers' streams end. */
  async forget(machineId: string): Promise<void> {
    await this.unfollow(machineId);
    const entry = this.#entries.get(machineId);
    if (!entry) return;
    this.#entries.delete(machineId);
    for (const subscriber of entry.subscribers) subscriber.end();
  }

  /** Stops following every file (the agent is stopping); kept lines stay readable. */
  async close(): Promise<void> {
    await Promise.all([...this.#entries.keys()].map((id) => this.unfollow(id)));
  }

  /** The last `n` lines kept for the Machine (all kept when absent), oldest first. */
  tail(machineId: string, n?: number): MachineLogLine[] {
    return this.#entries.get(machineId)?.kept.last(n) ?? [];
  }

  /** Calls `onLine` with each new line of the Machine, and `onEnd` when it is forgotten. Answers the unsubscribe. */
  subscribe(machineId: string, onLine: (line: MachineLogLine) => void, onEnd: () => void = () => undefined): () => void {
    const entry = this.#entry(machineId);
    const subscriber: Subscriber = { line: onLine, end: onEnd };
    entry.subscribers.add(subscriber);
    return () => {
      entry.subscribers.delete(subscriber);
      if (this.#entries.get(machineId) === entry) this.#dropIfUnused(machineId, entry);
    };
  }

  /**
   * The Machine's last lines, then (with `follow`) each new one until `signal` aborts or
   * the Machine is forgotten. A consumer that falls more than 10,000 lines behind loses
   * the oldest. Abort `signal` to end a follow: it wakes a reader waiting for a line.
   */
  async *lines(machineId: string, options: LogReadOptions = {}): AsyncGenerator<MachineLogLine> {
    const { signal } = options;
    if (signal?.aborted) return;
    // The snapshot and the subscription are taken in one tick: no line is missed or repeated.
    const backlog = this.tail(machineId, options.tail);
    const queue: MachineLogLine[] = [];
    let ended = !options.follow;
    let wake: (() => void) | undefined;
    const onEnd = (): void => {
      ended = true;
      wake?.();
    };
    const unsubscribe = options.follow
      ? this.subscribe(
          machineId,
          (line) => {
            queue.push(line);
            if (queue.length > MAX_QUEUED_LINES) queue.shift();
            wake?.();
          },
          onEnd,
        )
      : () => undefined;
    signal?.addEventListener('abort', onEnd);
    try {
      for (const line of backlog) {
        if (signal?.aborted) return;
        yield line;
      }
      for (;;) {
        if (signal?.aborted) return;
        const next = queue.shift();
        if (next) {
          yield next;
          continue;
        }
        if (ended) return;
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
      }
    } finally {
      signal?.removeEventListener('abort', onEnd);
      unsubscribe();
    }
  }

  #entry(machineId: string): Entry {
    let entry = this.#entries.get(machineId);
    if (!entry) {
      entry = { kept: new TailBuffer(this.#keepLines), subscribers: new Set() };
      this.#entries.set(machineId, entry);
    }
    return entry;
  }

  /** An entry with nothing in it (a subscriber to a Machine never followed) is not kept. */
  #dropIfUnused(machineId: string, entry: Entry): void {
    if (!entry.follower && entry.subscribers.size === 0 && entry.kept.last(1).length === 0) this.#entries.delete(machineId);
  }

  #publish(machineId: string, entry: Entry, split: SplitLine, log: Logger): void {
    const line: MachineLogLine = {
      timestamp: new Date(this.#now()).toISOString(),
      machine_id: machineId,
      message: split.text,
      ...(split.truncated ? { truncated: true as const } : {}),
    };
    if (split.truncated) log.info({ truncated: true }, line.message);
    else log.info(line.message);
    entry.kept.push(line);
    for (const subscriber of entry.subscribers) {
      try {
        subscriber.line(line);
      } catch (err) {
        // One bad subscriber must not stop the others, nor the follower.
        log.warn({ err }, 'machine log subscriber failed');
      }
    }
  }
}
