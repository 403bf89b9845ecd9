import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { createGzip } from 'node:zlib';
import { pack, type Header } from 'tar-stream';
import { AloftError } from '../../lib/errors.ts';

/** One entry of a layer, by its path inside the image. */
export interface LayerEntry {
  /** Path inside the image, e.g. "/app/server.js". Missing parents are added (0755, root). */
  path: string;
  type: 'file' | 'dir' | 'symlink';
  /** Permission bits (and 01777 for /tmp); owner and times are always normalised. */
  mode: number;
  uid?: number;
  gid?: number;
  /** A file's bytes, given here or read from `sourcePath` as the layer is written. */
  content?: Buffer;
  sourcePath?: string;
  /** A file's size: checked against what is read, so a file changed mid-build fails. */
  size?: number;
  /** A symlink's target, kept as written. */
  linkTarget?: string;
  /**
   * Files sharing a key (the host's "dev:ino") are one file with several names: the
   * first in layer order is stored, the others become hard links to it.
   */
  inode?: string;
}

/** A layer written as a gzip blob into a layout's blobs/sha256. */
export interface WrittenLayer {
  /** sha256 of the gzip blob (the manifest's layer digest). */
  digest: string;
  /** sha256 of the uncompressed tar (the config's diff_id). */
  diffId: string;
  /** Size of the gzip blob. */
  size: number;
  /** Entries in the tar, parents included. */
  entries: number;
}

/**
 * Writes `entries` as one gzip tar layer into `<layoutDir>/blobs/sha256/<hex>` and
 * returns its digests. Byte for byte reproducible: entries sorted by path with their
 * parents first, every mtime `mtime`, owners numeric with empty names, ustar headers
 * (tar-stream adds a pax header only for a path or link over ustar's limits, with no
 * times in it), and gzip with a zero header mtime at a fixed level. The blob is written
 * to a temp name and renamed, so a failed build leaves no partial blob.
 */
export async function writeLayer(layoutDir: string, entries: readonly LayerEntry[], mtime: Date): Promise<WrittenLayer> {
  const ordered = orderEntries(entries);
  const blobDir = join(layoutDir, 'blobs', 'sha256');
  await mkdir(blobDir, { recursive: true });
  const tmp = join(blobDir, `.layer-${randomBytes(6).toString('hex')}.tmp`);
  const diffHash = createHash('sha256');
  const blobHash = createHash('sha256');
  let size = 0;
  const tar = pack();
  // Fixed level and no header fields from the host: node's zlib writes mtime 0 and OS 3.
  const gzip = createGzip({ level: 6 });
  const out = createWriteStream(tmp, { mode: 0o644 });
  gzip.on('data', (chunk: Buffer) => {
    blobHash.update(chunk);
    size += chunk.length;
    if (!out.write(chunk)) gzip.pause();
  });
  out.on('drain', () => gzip.resume());
  const written = new Promise<void>((resolve, reject) => {
    out.on('finish', () => resolve());
    out.on('error', reject);
    gzip.on('error', reject);
    gzip.on('end', () => out.end());
  });
  // Moves tar bytes into gzip, waiting when gzip is behind, so memory stays bounded.
  const pumped = (async () => {
    for await (const chunk of tar as AsyncIterable<Buffer>) {
      diffHash.update(chunk);
      if (!gzip.write(chunk)) await once(gzip, 'drain');
    }
    gzip.end();
  })();
  try {
    for (const entry of ordered) await addEntry(tar, entry, mtime);
    tar.finalize();
    await Promise.all([pumped, written]);
    const digest = `sha256:${blobHash.digest('hex')}`;
    await rename(tmp, join(blobDir, digest.slice('sha256:'.length)));
    return { digest, diffId: `sha256:${diffHash.digest('hex')}`, size, entries: ordered.length };
  } catch (err) {
    tar.destroy();
    gzip.destroy();
    out.destroy();
    // Not awaited: a destroyed stream may never settle them; only rejections matter.
    pumped.catch(() => undefined);
    written.catch(() => undefined);
    await rm(tmp, { force: true });
    throw err;
  }
}

type Ordered = LayerEntry & { name: string; hardlinkTo?: string };

/** Cleans paths, adds missing parents, sorts, and turns repeated inodes into hard links. */
export function orderEntries(entries: readonly LayerEntry[]): Ordered[] {
  const byName = new Map<string, Ordered>();
  for (const entry of entries) {
    const name = cleanPath(entry.path);
    for (let parent = posix.dirname(name); parent !== '.'; parent = posix.dirname(parent)) {
      if (!byName.has(parent)) byName.set(parent, { path: `/${parent}`, name: parent, type: 'dir', mode: 0o755 });
    }
    const existing = byName.get(name);
    // Two layers' worth of the same directory (say /app) are one; a second file is a bug.
    if (existing !== undefined && !(existing.type === 'dir' && entry.type === 'dir')) {
      throw new AloftError('INTERNAL', `Cannot build layer as path '${entry.path}' must appear once: got it twice`);
    }
    byName.set(name, { ...entry, name });
  }
  // Code-unit order, not locale order: the same on every host.
  const sorted = [...byName.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const firstOf = new Map<string, string>();
  for (const entry of sorted) {
    if (entry.type !== 'file' || entry.inode === undefined) continue;
    const first = firstOf.get(entry.inode);
    if (first === undefined) firstOf.set(entry.inode, entry.name);
    else entry.hardlinkTo = first;
  }
  return sorted;
}

async function addEntry(tar: ReturnType<typeof pack>, entry: Ordered, mtime: Date): Promise<void> {
  const header: Header = {
    name: entry.type === 'dir' ? `${entry.name}/` : entry.name,
    mode: entry.mode & 0o7777,
    uid: entry.uid ?? 0,
    gid: entry.gid ?? 0,
    uname: '',
    gname: '',
    mtime,
    size: 0,
    type: entry.type === 'dir' ? 'directory' : entry.type,
    linkname: '',
    devmajor: 0,
    devminor: 0,
  };
  if (entry.type === 'symlink') header.linkname = entry.linkTarget ?? '';
  if (entry.hardlinkTo !== undefined) {
    header.type = 'link';
    header.linkname = entry.hardlinkTo;
  }
  const content = header.type === 'file' ? entry.content : Buffer.alloc(0);
  if (content !== undefined) {
    header.size = content.length;
    await new Promise<void>((resolve, reject) => tar.entry(header, content, (err) => (err ? reject(err) : resolve())));
    return;
  }
  const source = entry.sourcePath as string;
  header.size = entry.size ?? 0;
  let sink!: ReturnType<typeof tar.entry>;
  // The executor runs at once, so `sink` is set before it is used.
  const done = new Promise<void>((resolve, reject) => {
    sink = tar.entry(header, (err) => (err ? reject(err) : resolve()));
  });
  // Handled here too: a destroyed sink rejects `done` before anything awaits it.
  done.catch(() => undefined);
  let read = 0;
  try {
    for await (const chunk of createReadStream(source) as AsyncIterable<Buffer>) {
      read += chunk.length;
      if (read > header.size) break;
      if (!sink.write(chunk)) await once(sink as unknown as NodeJS.EventEmitter, 'drain');
    }
  } catch (err) {
    sink.destroy();
    throw new AloftError('BUILD_FAILED', `Cannot build image as '${source}' must be readable: got ${(err as Error).message}`, { cause: err });
  }
  if (read !== header.size) {
    sink.destroy();
    await done.catch(() => undefined);
    throw new AloftError('BUILD_FAILED', `Cannot build image as '${source}' must not change during the build: got ${read > header.size ? 'more' : 'fewer'} bytes than its ${header.size} when listed`);
  }
  sink.end(null);
  await done;
}

function cleanPath(path: string): string {
  const parts = path.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.length === 0 || parts.includes('..')) {
    throw new AloftError('INTERNAL', `Cannot build layer as an entry 'path' must name something below / without '..': got ${JSON.stringify(path)}`);
  }
  return parts.join('/');
}
