import { AloftError, invalidField } from '../../lib/errors.ts';
import { mustAuthorize, sendJson, type RegistryContext, type RouteRequest } from './context.ts';

/** GET /v2/<name>/tags/list with `n` and `last`; NAME_UNKNOWN for an unknown repository. */
export async function tagsRoute(ctx: RegistryContext, r: RouteRequest): Promise<void> {
  await mustAuthorize(ctx, r.req, r.repo, 'pull');
  if (!(await ctx.store.repoExists(r.repo))) {
    throw new AloftError('REGISTRY_NAME_UNKNOWN', `Cannot list tags as the repository must exist: got ${r.repo}`, { details: { name: r.repo } });
  }
  const page = paginate(await ctx.store.tags(r.repo), r.url);
  sendJson(r.res, 200, { name: r.repo, tags: page.items }, page.link === undefined ? {} : { Link: `<${r.url.pathname}?${page.link}>; rel="next"` }, r.req.method === 'HEAD');
}

/** GET /v2/_catalog with `n` and `last`. */
export async function catalogRoute(ctx: RegistryContext, r: Omit<RouteRequest, 'repo'>): Promise<void> {
  await mustAuthorize(ctx, r.req, undefined, 'catalog');
  // Filtered before paginating, so `n` and `last` page through what the client may see.
  const page = paginate(await ctx.filterCatalog(r.req, await ctx.store.repositories()), r.url);
  sendJson(r.res, 200, { repositories: page.items }, page.link === undefined ? {} : { Link: `</v2/_catalog?${page.link}>; rel="next"` });
}

/**
 * The spec's pagination: items after `last` (lexically), at most `n` of them, and the
 * query of the next page when more remain.
 */
export function paginate(sorted: string[], url: URL): { items: string[]; link: string | undefined } {
  const nText = url.searchParams.get('n');
  const last = url.searchParams.get('last');
  const after = last === null ? sorted : sorted.filter((item) => item > last);
  if (nText === null) return { items: after, link: undefined };
  const n = Number(nText);
  if (!Number.isSafeInteger(n) || n < 0) throw invalidField('list', 'n', 'a non-negative integer', nText);
  const items = after.slice(0, n);
  const more = after.length > n && items.length > 0;
  return { items, link: more ? new URLSearchParams({ n: String(n), last: items[items.length - 1] ?? '' }).toString() : undefined };
}
