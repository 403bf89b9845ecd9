import { pipeline, Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { inflateZstd } from './zstd-stream.ts';

/** How a layer or archive is compressed, told from its first bytes. */
export type Compression = 'gzip' | 'zstd' | 'none';

/** Reads the magic bytes: gzip is 1f 8b, zstd frames start 28 b5 2f fd. */
export function detectCompression(head: Buffer): Compression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
  return 'none';
}

/**
 * The decompressed bytes of `input`, choosing by magic bytes rather than by media type
 * (tools mislabel layers; the bytes do not lie). Errors of `input` reach the result;
 * a corrupt zstd stream fails it with IMAGE_INVALID naming `what` (zstd-stream.ts).
 */
export async function decompress(input: Readable, what: string): Promise<Readable> {
  const iterator = (input as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  const chunks: Buffer[] = [];
  let length = 0;
  while (length < 4) {
    const next = await iterator.next();
    if (next.done) break;
    chunks.push(next.value);
    length += next.value.length;
  }
  const head = Buffer.concat(chunks);
  const compression = detectCompression(head);
  async function* replay(): AsyncGenerator<Buffer> {
    if (head.length > 0) yield head;
    for (;;) {
      const next = await iterator.next();
      if (next.done) return;
      yield next.value;
    }
  }
  const raw = Readable.from(replay(), { objectMode: false });
  if (compression === 'none') return raw;
  if (compression === 'zstd') return Readable.from(inflateZstd(replay(), what), { objectMode: false });
  // pipeline (not pipe) so that a failing source destroys the gunzip stream with its error.
  // 128 KiB output chunks instead of zlib's 16 KiB: an eighth of the callbacks and
  // stream hops per byte on the unpack's hot path.
  return pipeline(raw, createGunzip({ chunkSize: 128 << 10 }), () => {});
}
