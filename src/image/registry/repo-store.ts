import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { BlobStore } from '../blob-store.ts';
import { digestHex } from '../digest.ts';

/**
 * The registry's disk: one content-addressed BlobStore for blobs and manifests alike,
 * plus per-repository links that say what each repository holds:
 *
 *   <dir>/blobs/sha256/<hex>                  content (shared by every repository)
 *   <dir>/repositories/<name>/_layers/<hex>   the repository has this blob
 *   <dir>/repositories/<name>/_manifests/<hex> the repository has this manifest (file: its media type)
 *   <dir>/repositories/<name>/_tags/<tag>      the tag (file: the manifest digest)
 *
 * Links keep one repository from reading another's blobs without a mount, and let
 * garbage collection find what is still referenced. Repository name components never
 * start with '_', so the link folders cannot collide with a nested repository.
 */
export class RepoStore {
  readonly blobs: BlobStore;
  private readonly repoDir: string;

  constructor(readonly dir: string) {
    this.blobs = new BlobStore(dir);
    this.repoDir = join(dir, 'repositories');
  }

  /** True when the repository has anything at all (a blob, a manifest or a tag). */
  async repoExists(name: string): Promise<boolean> {
    return (await stat(join(this.repoDir, name)).catch(() => undefined))?.isDirectory() === true;
  }

  /** True when blob `digest` is stored and linked into the repository. */
  async hasBlob(name: string, digest: string): Promise<boolean> {
    return (await exists(this.link(name, '_layers', digest))) && (await this.blobs.has(digest));
  }

  /** Links a stored blob into the repository. */
  async linkBlob(name: string, digest: string): Promise<void> {
    await writeAtomic(this.link(name, '_layers', digest), '');
  }

  /** Unlinks a blob from the repository; false when it was not linked. */
  async unlinkBlob(name: string, digest: string): Promise<boolean> {
    if (!(await exists(this.link(name, '_layers', digest)))) return false;
    await rm(this.link(name, '_layers', digest), { force: true });
    return true;
  }

  /** The media type of a manifest linked into the repository, or undefined. */
  async manifestType(name: string, digest: string): Promise<string | undefined> {
    if (!(await this.blobs.has(digest))) return undefined;
    return readFile(this.link(name, '_manifests', digest), 'utf8').catch(() => undefined);
  }

  /** Links a stored manifest into the repository, remembering its media type. */
  async linkManifest(name: string, digest: string, mediaType: string): Promise<void> {
    await writeAtomic(this.link(name, '_manifests', digest), mediaType);
  }

  /** Unlinks a manifest and every tag naming it; false when it was not linked. */
  async unlinkManifest(name: string, digest: string): Promise<boolean> {
    if (!(await exists(this.link(name, '_manifests', digest)))) return false;
    for (const tag of await this.tags(name)) {
      if ((await this.resolveTag(name, tag)) === digest) await this.deleteTag(name, tag);
    }
    await rm(this.link(name, '_manifests', digest), { force: true });
    return true;
  }

  /** Every manifest digest linked into the repository. */
  async manifests(name: string): Promise<string[]> {
    const entries = await readdir(join(this.repoDir, name, '_manifests')).catch(() => []);
    return entries.filter((e) => !e.startsWith('.')).map((hex) => `sha256:${hex}`);
  }

  /** The digest a tag names, or undefined. */
  async resolveTag(name: string, tag: string): Promise<string | undefined> {
    const text = await readFile(join(this.repoDir, name, '_tags', tag), 'utf8').catch(() => undefined);
    return text?.trim();
  }

  /** Points `tag` at `digest` (replacing what it named). */
  async setTag(name: string, tag: string, digest: string): Promise<void> {
    await writeAtomic(join(this.repoDir, name, '_tags', tag), digest);
  }

  /** Removes a tag; false when there was none. */
  async deleteTag(name: string, tag: string): Promise<boolean> {
    const path = join(this.repoDir, name, '_tags', tag);
    if (!(await exists(path))) return false;
    await rm(path, { force: true });
    return true;
  }

  /** The repository's tags, sorted lexically as the spec asks. */
  async tags(name: string): Promise<string[]> {
    const entries = await readdir(join(this.repoDir, name, '_tags')).catch(() => []);
    return entries.filter((e) => !e.startsWith('.')).sort();
  }

  /** Every repository name, sorted lexically. */
  async repositories(): Promise<string[]> {
    const found: string[] = [];
    const walk = async (rel: string): Promise<void> => {
      const entries = await readdir(join(this.repoDir, rel), { withFileTypes: true }).catch(() => []);
      if (entries.some((e) => e.name.startsWith('_'))) found.push(rel);
      for (const e of entries) {
        if (e.isDirectory() && !e.name.startsWith('_')) await walk(rel === '' ? e.name : `${rel}/${e.name}`);
      }
    };
    await walk('');
    return found.sort();
  }

  /** Every blob digest linked into the repository. */
  async blobLinks(name: string): Promise<string[]> {
    const entries = await readdir(join(this.repoDir, name, '_layers')).catch(() => []);
    return entries.filter((e) => !e.startsWith('.')).map((hex) => `sha256:${hex}`);
  }

  private link(name: string, kind: '_layers' | '_manifests', digest: string): string {
    return join(this.repoDir, name, kind, digestHex(digest));
  }
}

async function exists(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined)) !== undefined;
}

// Links are tiny files written whole and renamed, so a reader sees the old or the new.
// The temp name starts with '.', which no tag or hex digest can, so listings skip it.
async function writeAtomic(path: string, data: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `.tmp-${randomBytes(6).toString('hex')}`);
  await writeFile(tmp, data, { mode: 0o644 });
  await rename(tmp, path);
}
