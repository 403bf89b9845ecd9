import type { ServerResponse } from 'node:http';
import { AloftError } from '../../lib/errors.ts';
import { unsupported } from './blob-routes.ts';
import { mustAuthorize, sendEmpty, type RegistryContext, type RouteRequest } from './context.ts';
import { assertDigest, assertRepoName } from './names.ts';

/**
 * POST /v2/<name>/blobs/uploads/: a cross-repository mount (`?mount=&from=`, 201 when
 * the source has the blob, else a fresh session), a monolithic upload (`?digest=`,
 * body is the blob), or a new session (202 with its Location).
 */
export async function startUpload(ctx: RegistryContext, r: RouteRequest): Promise<void> {
  await mustAuthorize(ctx, r.req, r.repo, 'push');
  const mount = r.url.searchParams.get('mount');
  const from = r.url.searchParams.get('from');
  if (mount !== null && from !== null) {
    assertDigest(mount);
    assertRepoName(from);
    // The client must be allowed to read the source too, or a mount would leak blobs; a
    // refusal there is no error, as the spec falls back to an ordinary upload.
    const mayRead = await Promise.resolve(ctx.authorize(r.req, from, 'pull')).catch(() => false);
    if (mayRead && (await ctx.store.hasBlob(from, mount))) {
      await ctx.store.linkBlob(r.repo, mount);
      sendCreated(r.res, r.repo, mount);
      return;
    }
  }
  const digest = r.url.searchParams.get('digest');
  const id = await ctx.uploads.start(r.repo);
  if (digest !== null) {
    assertDigest(digest);
    try {
      await ctx.uploads.append(r.repo, id, r.req);
    } catch (err) {
      // A failed one-shot upload has no session the client knows of; drop its bytes.
      await ctx.uploads.cancel(r.repo, id).catch(() => {});
      throw err;
    }
    await finishInto(ctx, r, id, digest);
    return;
  }
  r.req.resume();
  sendProgress(r.res, r.repo, id, 0, 202);
}

/** PATCH, PUT, GET and DELETE /v2/<name>/blobs/uploads/<uuid>. */
export async function uploadRoute(ctx: RegistryContext, r: RouteRequest, id: string): Promise<void> {
  const method = r.req.method ?? 'GET';
  await mustAuthorize(ctx, r.req, r.repo, 'push');
  switch (method) {
    case 'PATCH': {
      const size = await ctx.uploads.append(r.repo, id, r.req, contentRangeStart(r.req.headers['content-range']));
      sendProgress(r.res, r.repo, id, size, 202);
      return;
    }
    case 'PUT': {
      const digest = r.url.searchParams.get('digest');
      assertDigest(digest);
      await ctx.uploads.append(r.repo, id, r.req);
      await finishInto(ctx, r, id, digest);
      return;
    }
    case 'GET':
      sendProgress(r.res, r.repo, id, await ctx.uploads.size(r.repo, id), 204);
      return;
    case 'DELETE':
      await ctx.uploads.cancel(r.repo, id);
      sendEmpty(r.res, 204);
      return;
    default:
      throw unsupported(method, r.url.pathname);
  }
}

async function finishInto(ctx: RegistryContext, r: RouteRequest, id: string, digest: string): Promise<void> {
  await ctx.uploads.finish(r.repo, id, digest);
  await ctx.store.linkBlob(r.repo, digest);
  sendCreated(r.res, r.repo, digest);
}

function sendCreated(res: ServerResponse, repo: string, digest: string): void {
  sendEmpty(res, 201, { Location: `/v2/${repo}/blobs/${digest}`, 'Docker-Content-Digest': digest });
}

// The spec's Range header is inclusive and, unlike HTTP's, has no "bytes=" prefix.
function sendProgress(res: ServerResponse, repo: string, id: string, size: number, status: number): void {
  sendEmpty(res, status, {
    Location: `/v2/${repo}/blobs/uploads/${id}`,
    'Docker-Upload-UUID': id,
    Range: `0-${Math.max(0, size - 1)}`,
  });
}

// Chunks carry "Content-Range: <start>-<end>"; only the start matters for ordering.
function contentRangeStart(header: string | undefined): number | undefined {
  if (header === undefined || header === '') return undefined;
  const match = /^(?:bytes[= ])?(\d+)-(\d+)(?:\/\S+)?$/.exec(header.trim());
  if (match?.[1] === undefined) {
    throw new AloftError('REGISTRY_BLOB_UPLOAD_INVALID', `Cannot append chunk as 'Content-Range' must be "<start>-<end>": got ${JSON.stringify(header.slice(0, 100))}`);
  }
  return Number(match[1]);
}
