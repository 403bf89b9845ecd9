import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AloftError } from '../../lib/errors.ts';
import { sha256Digest } from '../digest.ts';
import { MEDIA_TYPES } from '../media-types.ts';
import { imageIndexSchema, imageManifestSchema, parseJson } from '../oci-schemas.ts';
import { tagOf } from '../oci-layout.ts';
import { basicAuth, type RegistryTarget } from './registry-target.ts';

/** What pushLayoutImage put in the registry. */
export interface PushedImage {
  /** "127.0.0.1:5000/library/busybox:latest" */
  reference: string;
  digest: string;
  /** Blobs sent; the rest the registry already held. */
  uploaded: number;
}

/**
 * Pushes the image that `layoutTag` names in the OCI layout at `layout` to
 * `repo:tag` in the aloft registry, through the OCI Distribution HTTP API: each blob
 * the registry lacks (HEAD first) in one monolithic upload, then the manifest bytes as
 * they are, so the digest in the registry is the layout's. Failures are
 * IMAGE_PUSH_FAILED with the registry's answer.
 */
export async function pushLayoutImage(layout: string, layoutTag: string, target: RegistryTarget, repo: string, tag: string): Promise<PushedImage> {
  const blob = (digest: string): Promise<Buffer> => readFile(join(layout, 'blobs', 'sha256', digest.slice('sha256:'.length)));
  const index = parseJson(await readFile(join(layout, 'index.json')), imageIndexSchema, `index.json in ${layout}`);
  const entry = index.manifests.find((d) => tagOf(d) === layoutTag);
  if (entry === undefined) {
    throw new AloftError('IMAGE_NOT_FOUND', `Cannot push image as tag '${layoutTag}' must be in the layout ${layout}: got tags ${JSON.stringify(index.manifests.map(tagOf))}`);
  }
  const manifestBytes = await blob(entry.digest);
  const manifest = parseJson(manifestBytes, imageManifestSchema, `manifest ${entry.digest}`);
  const base = target.url.replace(/\/+$/, '');
  const auth = { authorization: basicAuth(target) };
  let uploaded = 0;
  for (const digest of [manifest.config.digest, ...manifest.layers.map((l) => l.digest)]) {
    const head = await call(`${base}/v2/${repo}/blobs/${digest}`, { method: 'HEAD', headers: auth });
    if (head.status === 200) continue;
    const bytes = await blob(digest);
    const res = await call(`${base}/v2/${repo}/blobs/uploads/?digest=${digest}`, { method: 'POST', body: bytes, headers: { ...auth, 'content-type': 'application/octet-stream' } });
    if (res.status !== 201) throw await refused(res, `blob ${digest}`, repo);
    uploaded += 1;
  }
  const put = await call(`${base}/v2/${repo}/manifests/${tag}`, {
    method: 'PUT',
    body: manifestBytes,
    headers: { ...auth, 'content-type': manifest.mediaType ?? entry.mediaType ?? MEDIA_TYPES.ociManifest },
  });
  if (put.status !== 201) throw await refused(put, 'manifest', repo);
  return { reference: `${new URL(base).host}/${repo}:${tag}`, digest: sha256Digest(manifestBytes), uploaded };
}

/** Checks that the registry answers and takes the token (GET /v2/), before slow work that would be lost. */
export async function checkRegistry(target: RegistryTarget): Promise<void> {
  const res = await call(`${target.url.replace(/\/+$/, '')}/v2/`, { headers: { authorization: basicAuth(target) } });
  if (res.status !== 200) throw await refused(res, 'images', 'the registry');
}

async function call(url: string, init: RequestInit): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch (err) {
    const why = err instanceof Error && err.cause instanceof Error ? err.cause.message : String(err);
    throw new AloftError('IMAGE_PUSH_FAILED', `Cannot push image as the registry at ${new URL(url).origin} must be reachable: got ${why} (is 'aloft up' or 'aloft registry' running?)`, { cause: err });
  }
}

async function refused(res: Response, what: string, repo: string): Promise<AloftError> {
  const body = (await res.text()).slice(0, 300);
  const code = res.status === 401 || res.status === 403 ? 'UNAUTHORIZED' : 'IMAGE_PUSH_FAILED';
  return new AloftError(code, `Cannot push ${what} to '${repo}' as the registry must accept it: got ${res.status} ${body}`, { details: { status: res.status } });
}
