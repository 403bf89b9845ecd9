import type { IncomingMessage } from 'node:http';
import { AloftError } from '../../lib/errors.ts';
import type { Authorize, FilterCatalog, RegistryAction } from '../../image/registry/index.ts';
import type { AuthStore } from '../../store/auth-store.ts';
import { principalResolver } from './authenticate.ts';
import type { Principal } from './principal.ts';

/** The registry's hooks, backed by the API's tokens; spread into createRegistry's options. */
export interface RegistryAccess {
  authorize: Authorize;
  filterCatalog: FilterCatalog;
}

/**
 * Access to the image registry with the same tokens as the API. Clients send
 * `Authorization: Bearer <secret>` or `Basic base64(user:secret)` (docker and skopeo
 * with `--creds user:secret`; the user name is ignored).
 *
 * - No or unknown credentials, or a revoked token: 401 UNAUTHORIZED with a Basic
 *   challenge, so clients retry with their credentials.
 * - The operator's token: everything.
 * - An org token: repositories `<org>/…`; an app-scoped one only `<org>/<app>` and
 *   `<org>/<app>/…`. Pulls always; pushes and deletes unless read-only (else 403 DENIED).
 * - Outside the scope, a pull answers 404 NAME_UNKNOWN, exactly as a missing repository,
 *   so a token cannot probe which names other orgs use (as the API hides their apps); a
 *   push or delete is 403 DENIED, which says nothing about whether the repository exists.
 * - The base endpoint and `_catalog` need any valid token; the catalog lists only
 *   repositories in the token's scope.
 */
export function registryAccess(options: { operatorToken: string; store: AuthStore }): RegistryAccess {
  const resolve = principalResolver(options);
  const principalOf = (request: IncomingMessage): Promise<Principal> => resolve(secretOf(request));
  return {
    async authorize(request, repo, action) {
      const principal = await principalOf(request);
      if (repo === undefined || principal.kind === 'operator') return true;
      if (!inScope(principal, repo)) {
        if (action === 'pull') throw hiddenRepo(repo);
        return false;
      }
      return !isWrite(action) || !principal.token.readOnly;
    },
    async filterCatalog(request, repos) {
      const principal = await principalOf(request);
      return principal.kind === 'operator' ? repos : repos.filter((repo) => inScope(principal, repo));
    },
  };
}

/** The secret of a Bearer or Basic `Authorization` header; UNAUTHORIZED when there is none. */
export function secretOf(request: IncomingMessage): string {
  const header = request.headers.authorization ?? '';
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (bearer?.[1] !== undefined) return bearer[1];
  const basic = /^Basic\s+(\S+)\s*$/i.exec(header);
  if (basic?.[1] !== undefined) {
    const decoded = Buffer.from(basic[1], 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    const secret = colon < 0 ? '' : decoded.slice(colon + 1);
    if (secret !== '') return secret;
  }
  throw new AloftError(
    'UNAUTHORIZED',
    `Cannot authorize registry request as 'Authorization' must be 'Bearer <token>' or 'Basic base64(user:token)': got ${header === '' ? 'nothing' : 'something else'}`,
  );
}

/** True when `repo` lies under the token's org, or under its one app for app-scoped tokens. */
function inScope(principal: Principal & { kind: 'token' }, repo: string): boolean {
  const { token } = principal;
  const prefix = token.appName === undefined ? token.orgSlug : `${token.orgSlug}/${token.appName}`;
  return repo.startsWith(`${prefix}/`) || (token.appName !== undefined && repo === prefix);
}

function isWrite(action: RegistryAction): boolean {
  return action === 'push' || action === 'delete';
}

/** The same answer whether or not the repository exists, so it reveals nothing. */
function hiddenRepo(repo: string): AloftError {
  return new AloftError('REGISTRY_NAME_UNKNOWN', `Cannot find repository as it must exist: got ${repo}`, { details: { name: repo } });
}
