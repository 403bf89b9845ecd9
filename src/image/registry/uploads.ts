import { createHash, randomBytes, randomUUID, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { AloftError } from '../../lib/errors.ts';
import type { BlobStore } from '../blob-store.ts';

/** Options of Uploads. */
export interface UploadsOptions {
  /** A session untouched for this long is removed with its bytes; default 24 h. */
  ttlMs?: number;
  /** Stale sessions are looked for at most this often, when a session starts; default 10 min. */
  sweepEveryMs?: number;
  /** The clock; tests move it. */
  now?: () => number;
}

/** What is kept on disk beside a session's bytes. */
interface SessionState {
  repo: string;
  /** Bytes of `data` that belong to the upload; anything past it is a chunk cut short. */
  size: number;
  startedAt: number;
  updatedAt: number;
}

/** One blob upload in progress. */
interface Session extends SessionState {
  dir: string;
  /** The running hash of the first `size` bytes. */
  hash: Hash;
  // Chunks of one session are applied one after another, in arrival order.
  queue: Promise<unknown>;
  closed: boolean;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * Blob upload sessions, durable across registry restarts. Each lives in
 * `<dir>/uploads/<uuid>/`: `data` (the bytes so far) and `state.json` (repository and
 * size, rewritten atomically after each chunk is synced), on the BlobStore's file system
 * so finishing is a rename. A restarted registry finds a session on its next request,
 * cuts `data` back to the recorded size (a chunk cut short by the restart is not part of
 * it; the client resends from the Range it is told) and re-hashes it. Finishing compares
 * the hash with the client's digest before the rename, so a wrong or partial blob is
 * never visible. Sessions untouched for `ttlMs` are removed.
 */
export class Uploads {
  private readonly sessions = new Map<string, Promise<Session>>();
  private readonly root: string;
  private readonly ttlMs: number;
  private readonly sweepEveryMs: number;
  private readonly now: () => number;
  private lastSweep = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly blobs: BlobStore,
    options: UploadsOptions = {},
  ) {
    this.root = join(blobs.dir, 'uploads');
    this.ttlMs = options.ttlMs ?? DAY_MS;
    this.sweepEveryMs = options.sweepEveryMs ?? 10 * 60 * 1000;
    this.now = options.now ?? Date.now;
  }

  /** Starts a session for `repo`; returns its id. */
  async start(repo: string): Promise<string> {
    if (this.now() - this.lastSweep >= this.sweepEveryMs) {
      this.lastSweep = this.now();
      await this.sweep();
    }
    const id = randomUUID();
    const dir = join(this.root, id);
    await mkdir(dir, { recursive: true });
    await (await open(join(dir, 'data'), 'wx', 0o644)).close();
    const now = this.now();
    const session: Session = { repo, size: 0, startedAt: now, updatedAt: now, dir, hash: createHash('sha256'), queue: Promise.resolve(), closed: false };
    await writeState(session);
    this.sessions.set(id, Promise.resolve(session));
    return id;
  }

  /** Bytes received so far; BLOB_UPLOAD_UNKNOWN when there is no such session. */
  async size(repo: string, id: string): Promise<number> {
    const session = await this.get(repo, id);
    await session.queue;
    return session.size;
  }

  /**
   * Appends `body` to the session. When `start` is given (from Content-Range) it must be
   * where the upload ends now, else REGISTRY_BLOB_UPLOAD_INVALID. Returns the new size,
   * recorded on disk once the bytes are.
   */
  async append(repo: string, id: string, body: Readable, start?: number): Promise<number> {
    const session = await this.get(repo, id);
    const run = session.queue.then(async () => {
      if (session.closed) throw unknown(repo, id);
      if (start !== undefined && start !== session.size) {
        body.resume();
        throw new AloftError('REGISTRY_BLOB_UPLOAD_INVALID', `Cannot append chunk as its start must be ${session.size}, where the upload ends: got ${start}`, {
          details: { expected: session.size, start },
        });
      }
      const file = await open(join(session.dir, 'data'), 'r+');
      let size = session.size;
      try {
        for await (const chunk of body as AsyncIterable<Buffer>) {
          await file.write(chunk, 0, chunk.length, size);
          session.hash.update(chunk);
          size += chunk.length;
        }
        await file.sync();
      } catch (err) {
        // The bytes past the recorded size are not part of the upload; the hash has
        // them, so start it again from the file.
        await file.close();
        await truncate(join(session.dir, 'data'), session.size);
        session.hash = await hashPrefix(join(session.dir, 'data'), session.size);
        throw err;
      }
      await file.close();
      session.size = size;
      session.updatedAt = this.now();
      await writeState(session);
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
    const session = await this.get(repo, id);
    await session.queue;
    if (session.closed) throw unknown(repo, id);
    session.closed = true;
    this.sessions.delete(id);
    const actual = `sha256:${session.hash.digest('hex')}`;
    try {
      if (actual !== digest) {
        throw new AloftError('REGISTRY_DIGEST_INVALID', `Cannot finish upload as its content must hash to ${digest}: got ${actual}`, {
          details: { digest, actual },
        });
      }
      if (!(await this.blobs.has(digest, session.size))) {
        await mkdir(dirname(this.blobs.path(digest)), { recursive: true });
        await rename(join(session.dir, 'data'), this.blobs.path(digest));
      }
    } finally {
      await rm(session.dir, { recursive: true, force: true });
    }
    return { digest, size: session.size };
  }

  /** Cancels the session and drops its bytes. */
  async cancel(repo: string, id: string): Promise<void> {
    const session = await this.get(repo, id);
    this.sessions.delete(id);
    await session.queue;
    session.closed = true;
    await rm(session.dir, { recursive: true, force: true });
  }

  /**
   * Removes sessions untouched for the TTL (and directories a crash left without a
   * state file). Returns the ids removed.
   */
  async sweep(): Promise<string[]> {
    const names = await readdir(this.root).catch(() => [] as string[]);
    const cutoff = this.now() - this.ttlMs;
    const removed: string[] = [];
    for (const id of names) {
      const dir = join(this.root, id);
      const state = await readState(dir);
      const touched = state?.updatedAt ?? (await stat(dir).catch(() => undefined))?.mtimeMs ?? 0;
      if (touched >= cutoff) continue;
      const live = this.sessions.get(id);
      if (live !== undefined) {
        const session = await live.catch(() => undefined);
        if (session !== undefined && session.updatedAt >= cutoff) continue;
        if (session !== undefined) session.closed = true;
        this.sessions.delete(id);
      }
      await rm(dir, { recursive: true, force: true });
      removed.push(id);
    }
    return removed;
  }

  /** The session, from memory or, after a restart, from disk; BLOB_UPLOAD_UNKNOWN when none. */
  private async get(repo: string, id: string): Promise<Session> {
    // Checked before the id touches a path: it comes from the URL.
    if (!UUID.test(id)) throw unknown(repo, id);
    let pending = this.sessions.get(id);
    if (pending === undefined) {
      pending = this.load(id);
      this.sessions.set(id, pending);
      pending.catch(() => this.sessions.delete(id));
    }
    const session = await pending.catch(() => undefined);
    if (session === undefined || session.repo !== repo || session.closed) throw unknown(repo, id);
    if (this.now() - session.updatedAt > this.ttlMs) {
      // Stale: as if the sweep had come first.
      this.sessions.delete(id);
      session.closed = true;
      await session.queue;
      await rm(session.dir, { recursive: true, force: true });
      throw unknown(repo, id);
    }
    return session;
  }

  private async load(id: string): Promise<Session> {
    const dir = join(this.root, id);
    const state = await readState(dir);
    if (state === undefined) throw new Error(`no state for upload ${id}`);
    const data = join(dir, 'data');
    const st = await stat(data);
    if (st.size < state.size) throw new Error(`upload ${id} has ${st.size} bytes, fewer than its state's ${state.size}`);
    if (st.size > state.size) await truncate(data, state.size);
    return { ...state, dir, hash: await hashPrefix(data, state.size), queue: Promise.resolve(), closed: false };
  }
}

function unknown(repo: string, id: string): AloftError {
  return new AloftError('REGISTRY_BLOB_UPLOAD_UNKNOWN', `Cannot use upload ${JSON.stringify(id.slice(0, 80))} as it must be an open session of ${repo}: got none`, {
    details: { uuid: id.slice(0, 80) },
  });
}

/** A sha256 of the first `size` bytes of `path`, to continue hashing from. */
async function hashPrefix(path: string, size: number): Promise<Hash> {
  const hash = createHash('sha256');
  if (size === 0) return hash;
  for await (const chunk of createReadStream(path, { start: 0, end: size - 1 }) as AsyncIterable<Buffer>) hash.update(chunk);
  return hash;
}

async function writeState(session: Session): Promise<void> {
  const state: SessionState = { repo: session.repo, size: session.size, startedAt: session.startedAt, updatedAt: session.updatedAt };
  const tmp = join(session.dir, `.state-${randomBytes(6).toString('hex')}`);
  await writeFile(tmp, JSON.stringify(state), { mode: 0o644 });
  await rename(tmp, join(session.dir, 'state.json'));
}

async function readState(dir: string): Promise<SessionState | undefined> {
  const text = await readFile(join(dir, 'state.json'), 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  try {
    const value = JSON.parse(text) as Partial<SessionState>;
    const { repo, size, startedAt, updatedAt } = value;
    if (typeof repo !== 'string' || !Number.isSafeInteger(size) || typeof startedAt !== 'number' || typeof updatedAt !== 'number') return undefined;
    return { repo, size: size as number, startedAt, updatedAt };
  } catch {
    return undefined;
  }
}
