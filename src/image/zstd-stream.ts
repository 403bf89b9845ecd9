import { Decompress } from 'fzstd';
import { AloftError } from '../lib/errors.ts';

/**
 * The largest zstd window accepted: 8 MiB, what the zstd format asks every decoder to
 * support and what zstd levels 1–19 and image tools (buildkit, containers/image) write.
 * fzstd allocates the whole window and moves it once per block, so a frame declaring a
 * 2 GiB window would cost gigabytes and seconds per 128 KiB of output: refused.
 */
export const MAX_ZSTD_WINDOW = 8 << 20;

/** The most output one push into fzstd may produce, so memory stays bounded. */
const MAX_PUSH_OUTPUT = 4 << 20;
const BLOCK_MAX = 128 << 10;
const ZSTD_MAGIC = 0xfd2fb528;

/** Where the scanner is in the stream of frames. */
type Scan = { at: 'frame' } | { at: 'block'; blockMax: number; checksum: boolean } | { at: 'checksum' } | { at: 'skip'; left: number };

/**
 * Decompresses a zstd stream (one or more frames, skippable frames allowed) with fzstd,
 * pure JS since Node 20's zlib has no zstd. fzstd decodes whatever it is handed at once,
 * so this reads the frame and block headers itself (the format's public layout) and
 * hands fzstd whole blocks, at most MAX_PUSH_OUTPUT of possible output at a time: a
 * bomb of 4-byte RLE blocks then yields a few MiB per step and the consumer (the
 * unpack budget's meter) stops it at its limit. Frame headers are checked here too:
 * dictionaries and windows over MAX_ZSTD_WINDOW are refused before fzstd sees them.
 * Errors are AloftErrors naming `what` (e.g. "layer sha256:…").
 */
export async function* inflateZstd(source: AsyncIterable<Buffer>, what: string): AsyncGenerator<Buffer> {
  const out: Buffer[] = [];
  const decoder = new Decompress((data) => {
    if (data.length > 0) out.push(Buffer.from(data.buffer, data.byteOffset, data.length));
  });
  const push = (bytes: Buffer, final: boolean): void => {
    try {
      decoder.push(bytes, final);
    } catch (err) {
      throw invalid(what, `its zstd stream must be valid: got ${(err as Error).message}`, err);
    }
  };
  let scan: Scan = { at: 'frame' };
  let pending: Buffer = Buffer.alloc(0);
  for await (const chunk of source) {
    let buf = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    let pos = 0;
    let start = 0;
    let budget = 0;
    for (;;) {
      const unit = nextUnit(buf, pos, scan, what);
      if (unit === undefined) break;
      if (budget + unit.output > MAX_PUSH_OUTPUT && pos > start) {
        push(buf.subarray(start, pos), false);
        start = pos;
        budget = 0;
        yield* out.splice(0);
      }
      budget += unit.output;
      pos = unit.end;
      scan = unit.next;
    }
    if (pos > start) {
      push(buf.subarray(start, pos), false);
      yield* out.splice(0);
    }
    pending = buf.subarray(pos);
    buf = Buffer.alloc(0);
  }
  if (pending.length > 0 || scan.at !== 'frame') {
    throw invalid(what, 'its zstd stream must end after a complete frame: got a truncated stream');
  }
  yield* out.splice(0);
}

interface Unit {
  end: number;
  /** The most bytes this unit can decompress to. */
  output: number;
  next: Scan;
}

/** The next complete unit (frame header, block, checksum, skippable frame) at `pos`, if all there. */
function nextUnit(buf: Buffer, pos: number, scan: Scan, what: string): Unit | undefined {
  const left = buf.length - pos;
  if (scan.at === 'skip') {
    // Skippable frames stream through (fzstd skips them too): never buffered whole.
    const take = Math.min(left, scan.left);
    if (take === 0) return undefined;
    return { end: pos + take, output: 0, next: take === scan.left ? { at: 'frame' } : { at: 'skip', left: scan.left - take } };
  }
  if (scan.at === 'checksum') return left < 4 ? undefined : { end: pos + 4, output: 0, next: { at: 'frame' } };
  if (scan.at === 'block') {
    if (left < 3) return undefined;
    const header = buf[pos]! | (buf[pos + 1]! << 8) | (buf[pos + 2]! << 16);
    const last = (header & 1) === 1;
    const type = (header >> 1) & 3;
    const size = header >>> 3;
    if (type === 3) throw invalid(what, 'its zstd blocks must have a known type: got the reserved type 3');
    if (size > scan.blockMax) {
      throw invalid(what, `its zstd blocks must hold at most ${scan.blockMax} bytes: got ${size}`);
    }
    const stored = type === 1 ? 1 : size;
    if (left < 3 + stored) return undefined;
    const next: Scan = !last ? scan : scan.checksum ? { at: 'checksum' } : { at: 'frame' };
    return { end: pos + 3 + stored, output: type === 2 ? scan.blockMax : size, next };
  }
  if (left < 4) return undefined;
  const magic = buf.readUInt32LE(pos);
  if ((magic & 0xfffffff0) === 0x184d2a50) {
    if (left < 8) return undefined;
    const size = buf.readUInt32LE(pos + 4);
    return { end: pos + 8, output: 0, next: size === 0 ? { at: 'frame' } : { at: 'skip', left: size } };
  }
  if (magic !== ZSTD_MAGIC) throw invalid(what, `its zstd frames must start with the zstd magic number: got 0x${magic.toString(16)}`);
  if (left < 5) return undefined;
  const fhd = buf[pos + 4]!;
  const fcsFlag = fhd >> 6;
  const singleSegment = ((fhd >> 5) & 1) === 1;
  const checksum = ((fhd >> 2) & 1) === 1;
  const dictBytes = [0, 1, 2, 4][fhd & 3]!;
  if ((fhd & 8) !== 0) throw invalid(what, 'its zstd frame headers must leave the reserved bit clear: got it set');
  const fcsBytes = [singleSegment ? 1 : 0, 2, 4, 8][fcsFlag]!;
  const headerLength = 5 + (singleSegment ? 0 : 1) + dictBytes + fcsBytes;
  if (left < headerLength) return undefined;
  let window: number;
  if (!singleSegment) {
    const descriptor = buf[pos + 5]!;
    const base = 2 ** (10 + (descriptor >> 3));
    window = base + (base / 8) * (descriptor & 7);
  } else {
    const at = pos + 5 + dictBytes;
    window = fcsBytes === 8 ? Number(buf.readBigUInt64LE(at)) : buf.readUIntLE(at, fcsBytes) + (fcsBytes === 2 ? 256 : 0);
  }
  const dictAt = pos + 5 + (singleSegment ? 0 : 1);
  if (dictBytes > 0 && buf.readUIntLE(dictAt, dictBytes) !== 0) {
    throw invalid(what, 'its zstd frames must not need a dictionary: got a dictionary id');
  }
  if (window > MAX_ZSTD_WINDOW) {
    throw new AloftError('IMAGE_UNSAFE', `Cannot unpack ${what} as its zstd window must be at most ${MAX_ZSTD_WINDOW} bytes: got ${window}`, {
      details: { what, window },
    });
  }
  return { end: pos + headerLength, output: 0, next: { at: 'block', blockMax: Math.max(1, Math.min(window, BLOCK_MAX)), checksum } };
}

function invalid(what: string, rest: string, cause?: unknown): AloftError {
  return new AloftError('IMAGE_INVALID', `Cannot unpack ${what} as ${rest}`, { ...(cause === undefined ? {} : { cause }), details: { what } });
}
