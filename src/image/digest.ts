import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { AloftError } from '../lib/errors.ts';

/** The only digest algorithm aloft accepts for now; OCI allows sha512 too. */
const SHA256 = /^sha256:([a-f0-9]{64})$/;

/** What a descriptor promises about a blob: its digest and its exact size. */
export interface BlobRef {
  digest: string;
  size: number;
}

/** True when `digest` has the shape "sha256:<64 lowercase hex>". */
export function isDigest(digest: string): boolean {
  return SHA256.test(digest);
}

/** The hex part of a sha256 digest; IMAGE_INVALID naming `what` when it is malformed. */
export function digestHex(digest: string, what = 'digest'): string {
  const match = SHA256.exec(digest);
  if (!match?.[1]) {
    throw new AloftError(
      'IMAGE_INVALID',
      `Cannot use ${what} as it must be "sha256:" and 64 lowercase hex digits: got ${JSON.stringify(digest.slice(0, 100))}`,
    );
  }
  return match[1];
}

/** The sha256 digest of bytes in memory. */
export function sha256Digest(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/**
 * Streams `input` through `onChunk` while hashing it, and fails as soon as it grows past
 * `expected.size` (so a lying or endless source cannot fill the disk). Throws
 * IMAGE_INVALID naming `what` when the size or digest at the end differs.
 */
export async function copyVerified(
  input: Readable,
  expected: BlobRef,
  what: string,
  onChunk: (chunk: Buffer) => Promise<unknown> | void,
): Promise<void> {
  const hash = createHash('sha256');
  let size = 0;
  try {
    for await (const chunk of input as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > expected.size) {
        throw new AloftError(
          'IMAGE_INVALID',
          `Cannot verify ${what} as its size must be ${expected.size} bytes as its descriptor says: got more`,
          { details: { digest: expected.digest } },
        );
      }
      hash.update(chunk);
      await onChunk(chunk);
    }
  } finally {
    input.destroy();
  }
  if (size !== expected.size) {
    throw new AloftError(
      'IMAGE_INVALID',
      `Cannot verify ${what} as its size must be ${expected.size} bytes as its descriptor says: got ${size}`,
      { details: { digest: expected.digest } },
    );
  }
  const actual = `sha256:${hash.digest('hex')}`;
  if (actual !== expected.digest) {
    throw new AloftError('IMAGE_INVALID', `Cannot verify ${what} as its digest must be ${expected.digest}: got ${actual}`, {
      details: { digest: expected.digest, actual },
    });
  }
}

/** Reads a whole (small) blob into memory, verified against `expected`. */
export async function readVerified(input: Readable, expected: BlobRef, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  await copyVerified(input, expected, what, (chunk) => {
    chunks.push(chunk);
  });
  return Buffer.concat(chunks);
}

/** Hashes a stream to its digest and size, without any expectation. */
export async function hashStream(input: Readable): Promise<BlobRef> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of input as AsyncIterable<Buffer>) {
    size += chunk.length;
    hash.update(chunk);
  }
  return { digest: `sha256:${hash.digest('hex')}`, size };
}
