import { watch, type FSWatcher } from 'node:fs';
import { copyFile, open, rename, rm, stat, truncate } from 'node:fs/promises';
import { basename, dirname } from 'node:path';

export interface FileFollowerOptions {
  path: string;
  /** Receives the bytes appended to the file, in order. */
  onData: (chunk: Buffer) => void;
  /** Told of anything that went wrong while reading (the follower keeps going). */
  onError?: (err: unknown) => void;
  /** How often the size is checked even without a watch event (fs.watch can miss events). */
  pollMs: number;
  /** Past this size the file is rotated to `<path>.1` by copy-and-truncate. */
  rotateBytes: number;
  /** Told after each rotation, with the rotated file's path. */
  onRotate?: (rotatedPath: string) => void;
}

const CHUNK_BYTES = 64 * 1024;

/**
 * Follows a file that another process appends to (the oci monitor's stdout/stderr,
 * QEMU's console chardev), from its end at `start()`. It reads on every change the
 * directory watch reports and on a size poll, so a missed event delays a line by at
 * most `pollMs`; the file may not exist yet, may be truncated (read again from 0) or
 * replaced (a new inode: read it from 0).
 *
 * Rotation is copy-and-truncate, not rename: both writers hold the file open with
 * O_APPEND and never reopen it, so after a rename they would keep appending to the
 * renamed file. Truncating the inode they hold works because O_APPEND writes always
 * land at the current end, so the next write starts at byte 0. The cost, as with
 * logrotate's copytruncate, is that bytes written between the end of the copy and the
 * truncate (one file-system call apart) are lost; bytes written between the last read
 * and the copy are still read, from the copy.
 *
 * A truncation is seen as the size falling below what was read; one followed at once by
 * more bytes than were read before it looks like an append (as with `tail -f`).
 * The watch and poll keep the process alive on purpose: a follower never closed shows
 * up as a test that does not end.
 */
export class FileFollower {
  readonly #o: FileFollowerOptions;
  #offset = 0;
  #ino: number | undefined;
  #watcher: FSWatcher | undefined;
  #poll: NodeJS.Timeout | undefined;
  /** The read in progress; reads never overlap, and a request during one runs once after it. */
  #reading: Promise<void> | undefined;
  #again = false;
  #closed = false;
  /** Set once `start` has found the file's end: reads before that would read from 0. */
  #starting: Promise<void> | undefined;

  constructor(options: FileFollowerOptions) {
    this.#o = options;
  }

  /** Starts at the file's current end (or at 0 once it appears) and follows it. */
  start(): Promise<void> {
    this.#starting ??= this.#start();
    return this.#starting;
  }

  async #start(): Promise<void> {
    const st = await stat(this.#o.path).catch(() => undefined);
    this.#offset = st?.size ?? 0;
    this.#ino = st?.ino;
    if (this.#closed) return;
    try {
      // The directory, not the file: it reports the file's creation and replacement too.
      this.#watcher = watch(dirname(this.#o.path), (_event, name) => {
        if (name === null || name === basename(this.#o.path)) void this.poke();
      });
      this.#watcher.on('error', () => this.#unwatch());
    } catch {
      // No directory yet (or no inotify): the poll alone follows the file.
    }
    this.#poll = setInterval(() => void this.poke(), this.#o.pollMs);
  }

  /** Reads whatever was appended since the last read. */
  poke(): Promise<void> {
    if (this.#closed || this.#starting === undefined) return Promise.resolve();
    if (this.#reading) {
      this.#again = true;
      return this.#reading;
    }
    this.#reading = (async () => {
      await this.#starting;
      do {
        this.#again = false;
        await this.#read().catch((err: unknown) => this.#o.onError?.(err));
      } while (this.#again && !this.#closed);
      this.#reading = undefined;
    })();
    return this.#reading;
  }

  /** Reads to the end one last time (the writer has stopped), then stops watching. */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.#starting;
    await this.poke();
    this.#closed = true;
    this.#unwatch();
    clearInterval(this.#poll);
    this.#poll = undefined;
    await this.#reading;
  }

  #unwatch(): void {
    this.#watcher?.close();
    this.#watcher = undefined;
  }

  async #read(): Promise<void> {
    const st = await stat(this.#o.path).catch(() => undefined);
    if (!st) return; // not there (yet, or any more): the next appearance is read from 0
    if (st.ino !== this.#ino || st.size < this.#offset) {
      // A new file, or this one truncated by someone else: read it from its start.
      this.#ino = st.ino;
      this.#offset = 0;
    }
    if (st.size > this.#offset) this.#offset = await this.#readRange(this.#o.path, this.#offset);
    if (this.#offset > this.#o.rotateBytes) await this.#rotate();
  }

  /** Passes on the bytes of `path` from `from` to its current end; answers where it stopped. */
  async #readRange(path: string, from: number): Promise<number> {
    const handle = await open(path, 'r');
    try {
      let offset = from;
      const buffer = Buffer.alloc(CHUNK_BYTES);
      for (;;) {
        const { bytesRead } = await handle.read(buffer, 0, CHUNK_BYTES, offset);
        if (bytesRead === 0) return offset;
        offset += bytesRead;
        this.#o.onData(Buffer.from(buffer.subarray(0, bytesRead)));
      }
    } finally {
      await handle.close();
    }
  }

  /** Copy-and-truncate (see the class comment); the copy replaces `<path>.1` whole, via a temp name. */
  async #rotate(): Promise<void> {
    const rotated = `${this.#o.path}.1`;
    const temp = `${rotated}.tmp`;
    await copyFile(this.#o.path, temp);
    await truncate(this.#o.path, 0);
    const from = this.#offset;
    this.#offset = 0;
    try {
      await rename(temp, rotated);
    } catch (err) {
      await rm(temp, { force: true });
      throw err;
    }
    // What was appended between the last read and the copy is only in the copy now.
    await this.#readRange(rotated, from);
    this.#o.onRotate?.(rotated);
  }
}
