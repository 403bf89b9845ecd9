import type { IncomingMessage, ServerResponse } from 'node:http';
import { AloftError } from '../../lib/errors.ts';
import type { RepoStore } from './repo-store.ts';
import type { Uploads } from './uploads.ts';

/** What a request wants to do to a repository, for the authorize hook. */
export type RegistryAction = 'pull' | 'push' | 'delete' | 'catalog';

/**
 * Decides whether a request may do `action` on `repo` (undefined for the catalog and
 * the base endpoint). Resolve false to refuse (403 DENIED), or throw an AloftError such
 * as UNAUTHORIZED to answer with it.
 */
export type Authorize = (request: IncomingMessage, repo: string | undefined, action: RegistryAction) => boolean | Promise<boolean>;

/**
 * Narrows the catalog to the repositories `request` may see (all of them when absent),
 * so a listing cannot reveal the names of repositories a client may not pull.
 */
export type FilterCatalog = (request: IncomingMessage, repos: string[]) => string[] | Promise<string[]>;

/** Everything a route handler needs. */
export interface RegistryContext {
  store: RepoStore;
  uploads: Uploads;
  authorize: Authorize;
  filterCatalog: FilterCatalog;
}

/** One parsed request, handed to a route. */
export interface RouteRequest {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  repo: string;
}

/** Runs the authorize hook and throws REGISTRY_DENIED when it refuses. */
export async function mustAuthorize(ctx: RegistryContext, req: IncomingMessage, repo: string | undefined, action: RegistryAction): Promise<void> {
  if (!(await ctx.authorize(req, repo, action))) {
    throw new AloftError('REGISTRY_DENIED', `Cannot ${action} ${repo ?? 'the catalog'} as the registry's authorize hook must allow it: got a refusal`, {
      details: { repo, action },
    });
  }
}

/** Reads a whole request body, refusing more than `limit` bytes (PAYLOAD_TOO_LARGE). */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new AloftError('PAYLOAD_TOO_LARGE', `Cannot read body as it must be at most ${limit} bytes: got more`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** Writes a response with no body (Content-Length 0 unless headers say otherwise). */
export function sendEmpty(res: ServerResponse, status: number, headers: Record<string, string | number> = {}): void {
  res.writeHead(status, { 'Content-Length': 0, ...headers });
  res.end();
}

/** Writes a JSON response (headers only for HEAD). */
export function sendJson(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}, head = false): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body), ...headers });
  res.end(head ? undefined : body);
}
