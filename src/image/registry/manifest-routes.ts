import { AloftError } from '../../lib/errors.ts';
import { sha256Digest } from '../digest.ts';
import { unsupported } from './blob-routes.ts';
import { mustAuthorize, readBody, sendEmpty, type RegistryContext, type RouteRequest } from './context.ts';
import { checkManifest } from './manifest-check.ts';
import { parseReference, type Reference } from './names.ts';

// Manifests are small; the spec suggests registries accept at least 4 MiB.
const MAX_MANIFEST = 4 * 1024 * 1024;

/** PUT, GET, HEAD and DELETE /v2/<name>/manifests/<tag|digest>. */
export async function manifestRoute(ctx: RegistryContext, r: RouteRequest, refText: string): Promise<void> {
  const ref = parseReference(refText);
  const method = r.req.method ?? 'GET';
  switch (method) {
    case 'PUT':
      await mustAuthorize(ctx, r.req, r.repo, 'push');
      await putManifest(ctx, r, ref);
      return;
    case 'GET':
    case 'HEAD':
      await mustAuthorize(ctx, r.req, r.repo, 'pull');
      await getManifest(ctx, r, ref, method === 'HEAD');
      return;
    case 'DELETE':
      await mustAuthorize(ctx, r.req, r.repo, 'delete');
      await deleteManifest(ctx, r, ref);
      return;
    default:
      throw unsupported(method, r.url.pathname);
  }
}

async function putManifest(ctx: RegistryContext, r: RouteRequest, ref: Reference): Promise<void> {
  const body = await readBody(r.req, MAX_MANIFEST);
  const digest = sha256Digest(body);
  if (ref.kind === 'digest' && ref.digest !== digest) {
    throw new AloftError('REGISTRY_DIGEST_INVALID', `Cannot store manifest as its content must hash to ${ref.digest}: got ${digest}`, {
      details: { digest: ref.digest, actual: digest },
    });
  }
  const refs = checkManifest(body, r.req.headers['content-type']);
  for (const blob of refs.blobs) {
    if (!(await ctx.store.hasBlob(r.repo, blob))) throw blobMissing(r.repo, blob, 'blob');
  }
  for (const child of refs.manifests) {
    if ((await ctx.store.manifestType(r.repo, child)) === undefined) throw blobMissing(r.repo, child, 'manifest');
  }
  await ctx.store.blobs.putBytes(body);
  await ctx.store.linkManifest(r.repo, digest, refs.mediaType);
  if (ref.kind === 'tag') await ctx.store.setTag(r.repo, ref.tag, digest);
  const headers: Record<string, string> = { Location: `/v2/${r.repo}/manifests/${digest}`, 'Docker-Content-Digest': digest };
  // The spec's signal that the registry took note of the subject (referrers come later).
  if (refs.subject !== undefined) headers['OCI-Subject'] = refs.subject;
  sendEmpty(r.res, 201, headers);
}

async function getManifest(ctx: RegistryContext, r: RouteRequest, ref: Reference, head: boolean): Promise<void> {
  const digest = await resolve(ctx, r.repo, ref);
  const mediaType = digest === undefined ? undefined : await ctx.store.manifestType(r.repo, digest);
  if (digest === undefined || mediaType === undefined) throw manifestUnknown(r.repo, ref);
  const body = await ctx.store.blobs.read(digest);
  r.res.writeHead(200, { 'Content-Type': mediaType, 'Content-Length': body.length, 'Docker-Content-Digest': digest });
  r.res.end(head ? undefined : body);
}

// DELETE by digest unlinks the manifest and its tags; DELETE by tag removes only the tag.
async function deleteManifest(ctx: RegistryContext, r: RouteRequest, ref: Reference): Promise<void> {
  const gone = ref.kind === 'tag' ? await ctx.store.deleteTag(r.repo, ref.tag) : await ctx.store.unlinkManifest(r.repo, ref.digest);
  if (!gone) throw manifestUnknown(r.repo, ref);
  sendEmpty(r.res, 202);
}

async function resolve(ctx: RegistryContext, repo: string, ref: Reference): Promise<string | undefined> {
  return ref.kind === 'digest' ? ref.digest : ctx.store.resolveTag(repo, ref.tag);
}

function manifestUnknown(repo: string, ref: Reference): AloftError {
  const text = ref.kind === 'digest' ? ref.digest : ref.tag;
  return new AloftError('REGISTRY_MANIFEST_UNKNOWN', `Cannot find manifest as it must be in repository ${repo}: got ${text}`, {
    details: ref.kind === 'digest' ? { digest: ref.digest } : { tag: ref.tag },
  });
}

function blobMissing(repo: string, digest: string, what: 'blob' | 'manifest'): AloftError {
  return new AloftError('REGISTRY_MANIFEST_BLOB_UNKNOWN', `Cannot store manifest as its ${what} ${digest} must already be in repository ${repo}: got nothing`, {
    details: { digest },
  });
}
