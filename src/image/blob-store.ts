import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { AloftError } from '../lib/errors.ts';
import { copyVerified, digestHex, sha256Digest, type BlobRef } from './digest.ts';

/**
 * A content-addressed store of verified blobs: `<dir>/blobs/sha256/<hex>`. A blob is
 * written to `<dir>/tmp`, hashed while written, synced, and renamed into place only
 * once its digest and size match, so a partial or wrong blob is never visible and a
 * present blob is a verified one.
 */
export class BlobStore {
  private readonly blobDir: string;
  private readonly tmpDir: string;
  // Blobs being written, by digest: a second put of one waits for the first instead of
  // fetching the same bytes again (concurrent pulls of images sharing layers).
  private readonly writing = new Map<string, Promise<boolean>>();

  constructor(readonly dir: string) {
    this.blobDir = join(dir, 'blobs', 'sha256');
    this.tmpDir = join(dir, 'tmp');
  }

  /** Where the blob lives (whether or not it is there yet). */
  path(digest: string): string {
    return join(this.blobDir, digestHex(digest));
  }

  /** True when the blob is stored (with `size`, when given). */
  async has(digest: string, size?: number): Promise<boolean> {
    const st = await stat(this.path(digest)).catch(() => undefined);
    return st !== undefined && st.isFile() && (size === undefined || st.size === size);
  }

  /**
   * Stores the blob from `open()` unless it is already there; resolves true when it
   * copied. The source is opened only when needed. Throws IMAGE_INVALID naming `what`
   * when the bytes do not match `expected`. Concurrent puts of one digest open the
   * source once; the others resolve false when it is stored, or fail with it.
   */
  put(expected: BlobRef, what: string, openSource: () => Promise<Readable>): Promise<boolean> {
    const pending = this.writing.get(expected.digest);
    if (pending !== undefined) return pending.then(() => false);
    const writing = this.putOnce(expected, what, openSource).finally(() => this.writing.delete(expected.digest));
    this.writing.set(expected.digest, writing);
    return writing;
  }

  private async putOnce(expected: BlobRef, what: string, openSource: () => Promise<Readable>): Promise<boolean> {
    if (await this.has(expected.digest, expected.size)) return false;
    const target = this.path(expected.digest);
    await mkdir(this.blobDir, { recursive: true });
    const tmp = await this.tmpPath('blob');
    const file = await open(tmp, 'wx', 0o644);
    try {
      await copyVerified(await openSource(), expected, what, (chunk) => file.write(chunk));
      await file.sync();
      await file.close();
      await rename(tmp, target);
    } catch (err) {
      await file.close().catch(() => {});
      await rm(tmp, { force: true });
      throw err;
    }
    return true;
  }

  /** Stores bytes held in memory (e.g. a manifest aloft wrote); returns their ref. */
  async putBytes(bytes: Buffer): Promise<BlobRef> {
    const ref = { digest: sha256Digest(bytes), size: bytes.length };
    await this.put(ref, `blob ${ref.digest}`, async () => Readable.from([bytes]));
    return ref;
  }

  /** Opens a stored blob; IMAGE_NOT_FOUND when absent. */
  async open(digest: string): Promise<Readable> {
    await this.mustHave(digest);
    return createReadStream(this.path(digest));
  }

  /** Reads a stored blob whole (for manifests and configs). */
  async read(digest: string): Promise<Buffer> {
    await this.mustHave(digest);
    return readFile(this.path(digest));
  }

  /** A fresh path in the store's temp dir, on the same file system as the blobs. */
  async tmpPath(prefix: string): Promise<string> {
    await mkdir(this.tmpDir, { recursive: true });
    return join(this.tmpDir, `${prefix}-${randomBytes(8).toString('hex')}`);
  }

  private async mustHave(digest: string): Promise<void> {
    if (!(await this.has(digest))) {
      throw new AloftError('IMAGE_NOT_FOUND', `Cannot read blob ${digest} as it must be in the image store at ${this.dir}: got nothing`, {
        details: { digest },
      });
    }
  }
}
