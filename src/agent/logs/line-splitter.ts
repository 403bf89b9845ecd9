/** One line cut from a byte stream: its text, and whether it was cut short at the cap. */
export interface SplitLine {
  text: string;
  truncated: boolean;
}

export interface LineSplitterOptions {
  /** Longest line kept, in bytes; the rest of a longer line is dropped and the line marked truncated. */
  maxLineBytes: number;
  /** How long a partial last line waits for its newline before it is emitted as it is (a prompt, a crash mid-line). */
  flushMs: number;
  /** Receives each line in order. */
  onLine: (line: SplitLine) => void;
}

/**
 * Cuts appended bytes into lines. A partial last line is held until its newline comes or
 * `flushMs` passes without one; a trailing `\r` is stripped (serial consoles end lines
 * with `\r\n`); a line longer than `maxLineBytes` keeps its first bytes (cut at a UTF-8
 * character boundary) and the rest, up to the next newline, is dropped, so one runaway
 * writer cannot grow the agent's memory.
 */
export class LineSplitter {
  readonly #o: LineSplitterOptions;
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  /** After a capped line: drop bytes until the next newline. */
  #dropping = false;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: LineSplitterOptions) {
    if (!Number.isInteger(options.maxLineBytes) || options.maxLineBytes < 1) {
      throw new RangeError(`Cannot split lines as 'maxLineBytes' must be a positive integer: got ${String(options.maxLineBytes)}`);
    }
    this.#o = options;
  }

  /** Feeds the next bytes of the stream. */
  push(chunk: Buffer): void {
    this.#clearTimer();
    let start = 0;
    while (start < chunk.length) {
      const nl = chunk.indexOf(0x0a, start);
      const end = nl === -1 ? chunk.length : nl;
      if (!this.#dropping) this.#append(chunk.subarray(start, end));
      if (nl === -1) break;
      if (this.#dropping) this.#dropping = false;
      else this.#emit(false);
      start = nl + 1;
    }
    if (this.#pendingBytes > 0) {
      this.#timer = setTimeout(() => this.flush(), this.#o.flushMs);
    }
  }

  /** Emits a held partial line now (a flush timeout, or the end of the stream). */
  flush(): void {
    this.#clearTimer();
    if (this.#pendingBytes > 0) this.#emit(false);
  }

  /** Flushes and stops the timer; the splitter may still be fed afterwards. */
  close(): void {
    this.flush();
  }

  #append(bytes: Buffer): void {
    if (bytes.length === 0) return;
    const room = this.#o.maxLineBytes - this.#pendingBytes;
    if (bytes.length <= room) {
      this.#pending.push(bytes);
      this.#pendingBytes += bytes.length;
      return;
    }
    // Over the cap: keep what fits, emit it marked, and drop until the newline.
    this.#pending.push(bytes.subarray(0, room));
    this.#pendingBytes += room;
    this.#emit(true);
    this.#dropping = true;
  }

  #emit(truncated: boolean): void {
    let bytes = Buffer.concat(this.#pending, this.#pendingBytes);
    this.#pending = [];
    this.#pendingBytes = 0;
    if (truncated) bytes = bytes.subarray(0, utf8Boundary(bytes));
    let text = bytes.toString('utf8');
    if (text.endsWith('\r')) text = text.slice(0, -1);
    this.#o.onLine({ text, truncated });
  }

  #clearTimer(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}

/** Where to cut `bytes` so that it does not end in the middle of a UTF-8 character. */
function utf8Boundary(bytes: Buffer): number {
  let i = bytes.length - 1;
  let continuation = 0;
  while (i >= 0 && (bytes[i]! & 0xc0) === 0x80) {
    i--;
    continuation++;
  }
  if (i < 0) return bytes.length;
  const lead = bytes[i]!;
  const need = lead >= 0xf0 ? 3 : lead >= 0xe0 ? 2 : lead >= 0xc0 ? 1 : 0;
  return continuation >= need ? bytes.length : i;
}
