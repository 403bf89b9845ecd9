import { ApiError, clientFromEnv } from '../api-client.ts';
import type { RegistryTarget } from '../../image/build/index.ts';

/** The registry URL the `images` commands use: --registry, else ALOFT_REGISTRY_URL, else what `aloft up` serves. */
export const DEFAULT_REGISTRY_URL = 'http://127.0.0.1:5000';

/**
 * The aloft registry and the token for it: the same token the CLI sends the API
 * (ALOFT_API_TOKEN, or the operator token file `aloft up` writes in the data dir),
 * since the registry accepts the API's tokens.
 */
export async function registryTarget(url: string | undefined, env: NodeJS.ProcessEnv = process.env): Promise<RegistryTarget> {
  const client = await clientFromEnv(env);
  return { url: (url ?? env['ALOFT_REGISTRY_URL'] ?? DEFAULT_REGISTRY_URL).replace(/\/+$/, ''), token: client.options.token };
}

/** One page after another of a registry list (`_catalog` or tags), following Link headers. */
export async function registryList<T>(target: RegistryTarget, path: string, pick: (body: unknown) => T[]): Promise<T[]> {
  const out: T[] = [];
  let next: string | undefined = path;
  while (next !== undefined) {
    let res: Response;
    try {
      res = await fetch(`${target.url}${next}`, { headers: { authorization: `Bearer ${target.token}` } });
    } catch (err) {
      const why = err instanceof Error && err.cause instanceof Error ? err.cause.message : String(err);
      throw new ApiError(`Cannot reach the aloft registry at ${target.url} (${why}); is 'aloft up' running? (or pass --registry)`, 0, 'UNREACHABLE');
    }
    const text = await res.text();
    if (!res.ok) throw new ApiError(`Cannot list ${next} as the registry at ${target.url} must answer 200: got ${res.status} ${text.slice(0, 200)}`, res.status, 'REGISTRY');
    out.push(...pick(JSON.parse(text) as unknown));
    const link = /<([^>]+)>;\s*rel="next"/.exec(res.headers.get('link') ?? '');
    next = link?.[1];
  }
  return out;
}
