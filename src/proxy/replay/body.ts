import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';

/** How much of a request body the edge keeps so that a fly-replay can send it again. */
export interface ReplayBodyOptions {
  /** Kept in memory up to this many bytes; the rest goes to a temp file. */
  memoryBytes: number;
  /** Bodies over this many bytes are not kept: a replay of them is refused (413). */
  capBytes: number;
  /** Where the temp files go (deleted when the request is over). */
  spoolDir: string;
}

/** What `rewind` found: the body can be sent again, is too large, or the client left. */
export type RewindResult = 'ready' | 'too-large' | 'gone';

/**
 * A request body that can be sent more than once. The client's stream is read as it
 * arrives and teed: one copy streams to the first Machine at once (no added latency,
 * backpressure from either side pauses the client), the other is kept — in memory up
 * to `memoryBytes`, then in a temp file, up to `capBytes`. When a Machine answers with
 * fly-replay, `rewind` waits for the rest of the body and later attempts read the
 * kept copy. Past the cap nothing more is kept and a replay cannot be made.
 */
export class ReplayBody {
  readonly #req: Readable;
  readonly #options: ReplayBodyOptions;
  #chunks: Buffer[] = [];
  #memoryBytes = 0;
  #total = 0;
  #overCap: boolean;
  #spool: { path: string; stream: WriteStream; finished: Promise<void> } | undefined;
  #live: PassThrough | undefined = new PassThrough();
  #replaying = false;
  #ended = false;
  #gone = false;
  #blockers = new Set<'live' | 'spool'>();
  #waiters: (() => void)[] = [];

  /** `declaredLength` (Content-Length) lets an over-cap body skip keeping anything. */
  constructor(req: Readable, options: ReplayBodyOptions, declaredLength?: number) {
    this.#req = req;
    this.#options = options;
    this.#overCap = declaredLength !== undefined && declaredLength > options.capBytes;
    req.on('data', (chunk: Buffer) => this.#onData(chunk));
    req.once('end', () => {
      this.#ended = true;
      this.#live?.end();
      this.#spool?.stream.end();
      this.#wake();
    });
    req.once('close', () => {
      if (this.#ended) return;
      this.#gone = true;
      this.#live?.destroy(new Error('the client closed the connection mid-body'));
      this.#wake();
    });
    req.once('error', () => undefined);
  }

  /** Bytes of body received so far. */
  get received(): number {
    return this.#total;
  }

  /** The path of the temp file, while there is one (for tests). */
  get spoolPath(): string | undefined {
    return this.#spool?.path;
  }

  /**
   * The stream to send with the next attempt: the live copy until a replay is asked
   * for (the same one again if no byte of it was read, so connect retries still work),
   * then a fresh reading of the kept copy each time.
   */
  current(): Readable {
    if (!this.#replaying) return this.#live ?? Readable.from([]);
    const chunks = this.#chunks;
    const spool = this.#spool?.path;
    return Readable.from(
      (async function* () {
        yield* chunks;
        if (spool !== undefined) yield* createReadStream(spool);
      })(),
      { objectMode: false },
    );
  }

  /** Stops the live copy, waits for the whole body, and switches to the kept copy. */
  async rewind(): Promise<RewindResult> {
    if (this.#live !== undefined) {
      this.#live.destroy();
      this.#live = undefined;
      this.#unblock('live');
    }
    while (!this.#ended && !this.#gone && !this.#overCap) await new Promise<void>((resolve) => this.#waiters.push(resolve));
    if (this.#gone) return 'gone';
    if (this.#overCap) return 'too-large';
    await this.#spool?.finished;
    this.#replaying = true;
    return 'ready';
  }

  /** Frees memory and deletes the temp file. Safe to call more than once. */
  async dispose(): Promise<void> {
    this.#chunks = [];
    this.#live?.destroy();
    this.#live = undefined;
    await this.#dropSpool();
  }

  #onData(chunk: Buffer): void {
    this.#total += chunk.length;
    if (!this.#overCap) {
      if (this.#total > this.#options.capBytes) {
        this.#overCap = true;
        this.#chunks = [];
        void this.#dropSpool();
        this.#wake();
      } else if (this.#spool === undefined && this.#memoryBytes + chunk.length <= this.#options.memoryBytes) {
        this.#chunks.push(chunk);
        this.#memoryBytes += chunk.length;
      } else {
        const spool = (this.#spool ??= this.#openSpool());
        if (!spool.stream.write(chunk)) this.#block('spool', spool.stream);
      }
    }
    if (this.#live !== undefined && !this.#live.write(chunk)) this.#block('live', this.#live);
  }

  #openSpool(): { path: string; stream: WriteStream; finished: Promise<void> } {
    const path = join(this.#options.spoolDir, `aloft-replay-${randomUUID()}`);
    const stream = createWriteStream(path, { flags: 'wx', mode: 0o600 });
    const finished = new Promise<void>((resolve, reject) => {
      stream.once('finish', resolve);
      stream.once('error', reject);
    });
    // A failed spool (disk full) makes the body unreplayable rather than crashing.
    finished.catch(() => {
      this.#overCap = true;
      this.#unblock('spool');
      this.#wake();
    });
    return { path, stream, finished };
  }

  async #dropSpool(): Promise<void> {
    const spool = this.#spool;
    if (spool === undefined) return;
    this.#spool = undefined;
    this.#unblock('spool');
    spool.stream.destroy();
    await new Promise<void>((resolve) => (spool.stream.closed ? resolve() : spool.stream.once('close', () => resolve())));
    await unlink(spool.path).catch(() => undefined);
  }

  /** Pauses the client while `by` is full; resumes when every copy has drained. */
  #block(by: 'live' | 'spool', stream: PassThrough | WriteStream): void {
    this.#blockers.add(by);
    this.#req.pause();
    stream.once('drain', () => this.#unblock(by));
  }

  #unblock(by: 'live' | 'spool'): void {
    if (!this.#blockers.delete(by)) return;
    if (this.#blockers.size === 0) this.#req.resume();
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }
}
