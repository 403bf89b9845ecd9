import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { systemClock, type Clock } from '../../lib/clock.ts';
import { checkManifest } from './manifest-check.ts';
import type { RepoStore } from './repo-store.ts';

/** Options of a garbage collection. */
export interface GcOptions {
  /**
   * Keep blobs younger than this (ms), so a push in flight (blobs uploaded, manifest not
   * yet put) keeps its blobs. Default 0: collect everything unreferenced, which is only
   * safe while nothing is pushing.
   */
  graceMs?: number;
  clock?: Pick<Clock, 'now'>;
}

/**
 * Mark and sweep: every manifest linked in any repository is live, and so is all it
 * references (config, layers, an index's manifests, recursively). Every other blob is
 * removed from disk, and repositories' links to removed blobs go with them. Returns the
 * removed digests.
 */
export async function collectGarbage(store: RepoStore, options: GcOptions = {}): Promise<{ removed: string[] }> {
  const live = new Set<string>();
  // Only manifests are read back: config and layer blobs are marked without opening them.
  const markManifest = async (digest: string): Promise<void> => {
    if (live.has(digest)) return;
    live.add(digest);
    const body = await store.blobs.read(digest).catch(() => undefined);
    if (body === undefined) return;
    const refs = (() => {
      try {
        return checkManifest(body, undefined);
      } catch {
        return undefined;
      }
    })();
    if (refs === undefined) return;
    for (const blob of refs.blobs) live.add(blob);
    for (const child of refs.manifests) await markManifest(child);
  };
  const repos = await store.repositories();
  for (const repo of repos) {
    for (const manifest of await store.manifests(repo)) await markManifest(manifest);
  }
  const now = (options.clock ?? systemClock).now();
  const grace = options.graceMs ?? 0;
  const blobDir = join(store.dir, 'blobs', 'sha256');
  const removed: string[] = [];
  for (const hex of await readdir(blobDir).catch(() => [])) {
    const digest = `sha256:${hex}`;
    if (live.has(digest)) continue;
    const st = await stat(join(blobDir, hex)).catch(() => undefined);
    if (st === undefined || now - st.mtimeMs < grace) continue;
    await rm(join(blobDir, hex), { force: true });
    removed.push(digest);
  }
  const gone = new Set(removed);
  for (const repo of repos) {
    for (const digest of await store.blobLinks(repo)) {
      if (gone.has(digest)) await store.unlinkBlob(repo, digest);
    }
  }
  return { removed: removed.sort() };
}
