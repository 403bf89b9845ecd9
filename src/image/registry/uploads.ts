import { createHash, randomUUID, type Hash } from 'node:crypto';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Readable } from 'node:stream';
import { AloftError } from '../../lib/errors.ts';
import type { BlobStore } from '../blob-store.ts';

/** One blob upload in progress. */
interface Session {
  repo: string;
  path: string;
  size: number;
  hash: Hash;
  // Chunks of one session are applied one after another, in arrival order.
  queue: Promise<unknown>;
}

/**
 * Blob upload sessions. Bytes go to a temp file in the BlobStore's own temp dir (same
 * file system, so finishing is a rename) and are hashed as they are written; finishing
 * compares that hash with the client's digest and only then renames the file into the
 * store, so a wrong or partial blob is never visible. Sessions live in memory: a
 * restarted registry forgets them (clients restart the upload on BLOB_UPLOAD_UNKNOWN).
 */
export class Uploads {
  private readonly sessions = new Map<string, Session>();

  constructor(private readonly blobs: BlobStore) {}

  /** Starts a session for `repo`; returns its id. */
  async start(repo: string): Promise<string> {
    const id = randomUUID();
    const path = await this.blobs.tmpPath('upload');
    await (await open(path, 'wx', 0o644)).close();
    this.sessions.set(id, { repo, path, size: 0, hash: createHash('sha256'), queue: Promise.resolve() });
    return id;
  }

  /** Bytes received so far; BLOB_UPLOAD_UNKNOWN when there is no such session. */
  size(repo: string, id: string): number {
    return this.get(repo, id).size;
  }

  /**
   * Appends `body` to the session. When `start` is given (from Content-Range) it must be
   * where the upload ends now, else REGISTRY_BLOB_UPLOAD_INVALID. Returns the new size.
   */
  async append(repo: string, id: string, body: Readable, start?: number): Promise<number> {
    const session = this.get(repo, id);
    const run = session.queue.then(async () => {
      if (start !== undefined && start !== session.size) {
        body.resume();
        throw new AloftError('REGISTRY_BLOB_UPLOAD_INVALID', `Cannot append chunk as its start must be ${session.size}, where the upload ends: got ${start}`, {
          details: { expected: session.size, start },
        });
      }
      const file = await open(session.path, 'a');
      try {
        for await (const chunk of body as AsyncIterable<Buffer>) {
          await file.write(chunk);
          session.hash.update(chunk);
          session.size += chunk.length;
        }
      } finally {
        await file.close();
      }
      return session.size;
    });
    session.queue = run.catch(() => {});
    return run;
  }

  /**
   * Finishes the session: the bytes must hash to `digest`, else REGISTRY_DIGEST_INVALID
   * and the bytes are dropped. On success the blob is in the store. Either way the
   * session is gone.
   */
  async finish(repo: string, id: string, digest: string): Promise<{ digest: string; size: number }> {
    const session = this.get(repo, id);
    await session.queue;
    this.sessions.delete(id);
    const actual = `sha256:${session.hash.digest('hex')}`;
    if (actual !== digest) {
      await rm(session.path, { force: true });
      throw new AloftError('REGISTRY_DIGEST_INVALID', `Cannot finish upload as its content must hash to ${digest}: got ${actual}`, {
        details: { digest, actual },
      });
    }
    if (await this.blobs.has(digest, session.size)) {
      await rm(session.path, { force: true });
    } else {
      const file = await open(session.path, 'r+');
      await file.sync().finally(() => file.close());
      await mkdir(dirname(this.blobs.path(digest)), { recursive: true });
      await rename(session.path, this.blobs.path(digest));
    }
    return { digest, size: session.size };
  }

  /** Cancels the session and drops its bytes. */
  async cancel(repo: string, id: string): Promise<void> {
    const session = this.get(repo, id);
    this.sessions.delete(id);
    await session.queue;
    await rm(session.path, { force: true });
  }

  private get(repo: string, id: string): Session {
    const session = this.sessions.get(id);
    if (session === undefined || session.repo !== repo) {
      throw new AloftError('REGISTRY_BLOB_UPLOAD_UNKNOWN', `Cannot use upload ${JSON.stringify(id.slice(0, 80))} as it must be an open session of ${repo}: got none`, {
        details: { uuid: id },
      });
    }
    return session;
  }
}
