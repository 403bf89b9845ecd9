// Reads layers back for the build tests. Not part of the public face.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { extract } from 'tar-stream';

/** One tar entry as a test sees it. */
export interface ReadEntry {
  name: string;
  type: string;
  mode: number;
  uid: number;
  gid: number;
  uname: string;
  gname: string;
  mtime: number;
  linkname: string | null;
  /** Set on a pax extended header: which keys it carried. */
  pax: string[];
  content: Buffer;
}

/** The entries of the gzip layer `digest` in the layout at `layoutDir`, in tar order. */
export async function readLayer(layoutDir: string, digest: string): Promise<ReadEntry[]> {
  return readTar(gunzipSync(await readFile(blobPath(layoutDir, digest))));
}

/** The path of a blob in a layout. */
export function blobPath(layoutDir: string, digest: string): string {
  return join(layoutDir, 'blobs', 'sha256', digest.slice('sha256:'.length));
}

/** The parsed JSON blob `digest`. */
export async function readJsonBlob<T>(layoutDir: string, digest: string): Promise<T> {
  return JSON.parse(await readFile(blobPath(layoutDir, digest), 'utf8')) as T;
}

/** An OCI manifest, as far as the tests read it. */
export interface TestManifest {
  config: { digest: string };
  layers: { digest: string; size: number }[];
}

/** The manifest a layout's index.json files under `tag`. */
export async function manifestOf(layoutDir: string, tag = 'latest'): Promise<{ digest: string; manifest: TestManifest }> {
  const index = JSON.parse(await readFile(join(layoutDir, 'index.json'), 'utf8')) as { manifests: { digest: string; annotations?: Record<string, string> }[] };
  const entry = index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === tag);
  if (entry === undefined) throw new Error(`no tag ${tag} in ${layoutDir}`);
  return { digest: entry.digest, manifest: await readJsonBlob<TestManifest>(layoutDir, entry.digest) };
}

async function readTar(tar: Buffer): Promise<ReadEntry[]> {
  const entries: ReadEntry[] = [];
  const ex = extract();
  const done = new Promise<void>((resolve, reject) => {
    ex.on('finish', () => resolve());
    ex.on('error', reject);
  });
  ex.on('entry', (header, stream, next) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: unknown) => {
      chunks.push(c as Buffer);
    });
    stream.on('end', () => {
      entries.push({
        name: header.name,
        type: header.type ?? 'file',
        mode: header.mode ?? 0,
        uid: header.uid ?? 0,
        gid: header.gid ?? 0,
        uname: header.uname ?? '',
        gname: header.gname ?? '',
        mtime: header.mtime?.getTime() ?? -1,
        linkname: header.linkname ?? null,
        pax: Object.keys(header.pax ?? {}),
        content: Buffer.concat(chunks),
      });
      next();
    });
  });
  ex.end(tar);
  await done;
  return entries;
}
