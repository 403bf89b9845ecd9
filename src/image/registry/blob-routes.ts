import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { AloftError } from '../../lib/errors.ts';
import { mustAuthorize, sendEmpty, type RegistryContext, type RouteRequest } from './context.ts';
import { assertDigest } from './names.ts';

/** GET/HEAD/DELETE /v2/<name>/blobs/<digest>; GET answers a single `Range` with 206. */
export async function blobRoute(ctx: RegistryContext, r: RouteRequest, digest: string): Promise<void> {
  assertDigest(digest);
  const method = r.req.method ?? 'GET';
  if (method === 'DELETE') {
    await mustAuthorize(ctx, r.req, r.repo, 'delete');
    if (!(await ctx.store.unlinkBlob(r.repo, digest))) throw blobUnknown(r.repo, digest);
    sendEmpty(r.res, 202);
    return;
  }
  if (method !== 'GET' && method !== 'HEAD') throw unsupported(method, r.url.pathname);
  await mustAuthorize(ctx, r.req, r.repo, 'pull');
  if (!(await ctx.store.hasBlob(r.repo, digest))) throw blobUnknown(r.repo, digest);
  const path = ctx.store.blobs.path(digest);
  const size = (await stat(path)).size;
  const headers: Record<string, string | number> = {
    'Content-Type': 'application/octet-stream',
    'Docker-Content-Digest': digest,
    'Accept-Ranges': 'bytes',
  };
  const range = parseRange(r.req.headers.range, size);
  if (range === undefined) {
    r.res.writeHead(200, { ...headers, 'Content-Length': size });
    if (method === 'HEAD' || size === 0) {
      r.res.end();
      return;
    }
    await pipeline(createReadStream(path), r.res);
    return;
  }
  r.res.writeHead(206, { ...headers, 'Content-Length': range.end - range.start + 1, 'Content-Range': `bytes ${range.start}-${range.end}/${size}` });
  if (method === 'HEAD') {
    r.res.end();
    return;
  }
  await pipeline(createReadStream(path, { start: range.start, end: range.end }), r.res);
}

/**
 * Parses one `bytes=a-b`, `bytes=a-` or `bytes=-n` range; undefined when there is no
 * header. Several ranges are not supported (REGISTRY_UNSUPPORTED); a range outside the
 * blob is REGISTRY_RANGE_INVALID.
 */
export function parseRange(header: string | undefined, size: number): { start: number; end: number } | undefined {
  if (header === undefined || header === '') return undefined;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (match === null) {
    throw new AloftError('REGISTRY_UNSUPPORTED', `Cannot serve range as it must be one "bytes=start-end" range: got ${JSON.stringify(header.slice(0, 100))}`);
  }
  const [, a = '', b = ''] = match;
  let start: number;
  let end: number;
  if (a === '') {
    const suffix = Number(b);
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(a);
    end = b === '' ? size - 1 : Math.min(Number(b), size - 1);
  }
  if (a === '' && b === '') start = size;
  if (start > end || start >= size) {
    throw new AloftError('REGISTRY_RANGE_INVALID', `Cannot serve range as it must lie within the blob's ${size} bytes: got ${JSON.stringify(header)}`, {
      details: { size },
    });
  }
  return { start, end };
}

/** REGISTRY_BLOB_UNKNOWN for `digest` in `repo`. */
export function blobUnknown(repo: string, digest: string): AloftError {
  return new AloftError('REGISTRY_BLOB_UNKNOWN', `Cannot find blob as it must be in repository ${repo}: got ${digest}`, { details: { digest } });
}

/** REGISTRY_UNSUPPORTED for a method a route does not take. */
export function unsupported(method: string, path: string): AloftError {
  return new AloftError('REGISTRY_UNSUPPORTED', `Cannot ${method} ${path} as the method must be one the endpoint supports: got ${method}`, {
    details: { method },
  });
}
