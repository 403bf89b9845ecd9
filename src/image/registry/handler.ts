import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../../lib/log.ts';
import { AloftError } from '../../lib/errors.ts';
import { blobRoute, unsupported } from './blob-routes.ts';
import { mustAuthorize, sendJson, type RegistryContext, type RouteRequest } from './context.ts';
import { catalogRoute, tagsRoute } from './list-routes.ts';
import { manifestRoute } from './manifest-routes.ts';
import { assertRepoName } from './names.ts';
import { sendError } from './oci-errors.ts';
import { startUpload, uploadRoute } from './upload-routes.ts';

// Names hold slashes, so the route is found from the end of the path: the greedy name
// backs off until the rest is one of the spec's endpoint suffixes.
const ROUTE = /^\/v2\/(.+)\/(?:blobs\/uploads\/([^/]*)|blobs\/([^/]+)|manifests\/([^/]+)|tags\/list)$/;

/** A node:http request listener serving the OCI Distribution Spec from `ctx`. */
export function createHandler(ctx: RegistryContext, log: Logger): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    route(ctx, req, res).catch((err: unknown) => {
      const error = sendError(res, err, req.method === 'HEAD');
      if (error.kind === 'system') log.error({ err: error, method: req.method, url: req.url }, 'registry request failed');
      else log.debug({ code: error.code, method: req.method, url: req.url }, 'registry request refused');
      // Drain what the client is still sending so the connection can be reused.
      req.resume();
    });
  };
}

async function route(ctx: RegistryContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://registry.invalid');
  res.setHeader('Docker-Distribution-API-Version', 'registry/2.0');
  const path = url.pathname;
  if (path === '/v2/' || path === '/v2') {
    await mustAuthorize(ctx, req, undefined, 'pull');
    sendJson(res, 200, {}, {}, req.method === 'HEAD');
    return;
  }
  if (path === '/v2/_catalog') {
    if (req.method !== 'GET') throw unsupported(req.method ?? '', path);
    await catalogRoute(ctx, { req, res, url });
    return;
  }
  const match = ROUTE.exec(path);
  if (match === null || match[1] === undefined) {
    throw new AloftError('NOT_FOUND', `Cannot route ${req.method} ${path.slice(0, 200)} as it must be an OCI Distribution endpoint: got none`);
  }
  const repo = match[1];
  assertRepoName(repo);
  const r: RouteRequest = { req, res, url, repo };
  const [, , uploadId, blobDigest, reference] = match;
  if (uploadId !== undefined) {
    if (uploadId === '') {
      if (req.method !== 'POST') throw unsupported(req.method ?? '', path);
      await startUpload(ctx, r);
    } else {
      await uploadRoute(ctx, r, uploadId);
    }
  } else if (blobDigest !== undefined) {
    await blobRoute(ctx, r, blobDigest);
  } else if (reference !== undefined) {
    await manifestRoute(ctx, r, reference);
  } else {
    if (req.method !== 'GET' && req.method !== 'HEAD') throw unsupported(req.method ?? '', path);
    await tagsRoute(ctx, r);
  }
}
