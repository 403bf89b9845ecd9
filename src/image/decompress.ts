import { pipeline, Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { AloftError } from '../lib/errors.ts';

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
 * (tools mislabel layers; the bytes do not lie). Errors of `input` reach the result.
 * zstd is refused with IMAGE_INVALID until a decompressor is added.
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
  if (compression === 'zstd') {
    input.destroy();
    throw new AloftError('IMAGE_INVALID', `Cannot unpack ${what} as its compression must be gzip or none: got zstd, not supported yet`);
  }
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
  // pipeline (not pipe) so that a failing source destroys the gunzip stream with its error.
  return pipeline(raw, createGunzip(), () => {});
}
