import { createHash } from 'node:crypto';
import { AloftError } from '../lib/errors.ts';
import { fetchWithRetry, unreachable, type FetchPolicy } from './registry-fetch.ts';

/** What a registry's Bearer challenge asks for. */
export interface TokenRequest {
  realm: string;
  service?: string;
  scope?: string;
}

/** Basic credentials for the token server, when the client has some. */
export interface TokenCredentials {
  username: string;
  password: string;
}

interface Entry {
  token: string;
  expiresAt: number;
}

// Docker's token spec: a token without expires_in lasts 60 s.
const DEFAULT_EXPIRES_S = 60;
const MAX_TOKEN_RESPONSE = 1 << 20;

/**
 * Bearer tokens from registry token servers (Docker Hub, GHCR, distribution's token
 * auth), cached per realm, service, scope and user until shortly before `expires_in`.
 * Concurrent requests for one scope share one fetch. Also remembers each repository's
 * last challenge, so later requests to it send a token without a 401 round trip first.
 * One instance per ImageStore, so concurrent pulls share it.
 */
export class RegistryTokens {
  private readonly tokens = new Map<string, Entry>();
  private readonly pending = new Map<string, Promise<string>>();
  private readonly challenges = new Map<string, TokenRequest>();

  constructor(
    private readonly options: { fetch?: typeof fetch; now?: () => number; policy?: FetchPolicy } = {},
  ) {}

  /** The challenge `repoKey` ("host/repo") last answered with, if any. */
  challengeFor(repoKey: string): TokenRequest | undefined {
    return this.challenges.get(repoKey);
  }

  /** Remembers the challenge a repository answered with. */
  remember(repoKey: string, request: TokenRequest): void {
    this.challenges.set(repoKey, request);
  }

  /** Forgets `token` if it is still the cached one (the registry refused it). */
  invalidate(request: TokenRequest, creds: TokenCredentials | undefined, token: string): void {
    const key = cacheKey(request, creds);
    if (this.tokens.get(key)?.token === token) this.tokens.delete(key);
  }

  /**
   * A token for `request`: cached while unexpired, else fetched from the realm with
   * service and scope (with Basic credentials when given, else anonymously).
   * IMAGE_PULL_UNAUTHORIZED naming the realm and the HTTP status when refused.
   */
  get(request: TokenRequest, creds: TokenCredentials | undefined): Promise<string> {
    const key = cacheKey(request, creds);
    const cached = this.tokens.get(key);
    if (cached !== undefined && cached.expiresAt > this.now()) return Promise.resolve(cached.token);
    let pending = this.pending.get(key);
    if (pending === undefined) {
      pending = this.fetchToken(request, creds, key).finally(() => this.pending.delete(key));
      this.pending.set(key, pending);
    }
    return pending;
  }

  private async fetchToken(request: TokenRequest, creds: TokenCredentials | undefined, key: string): Promise<string> {
    let url: URL;
    try {
      url = new URL(request.realm);
    } catch {
      throw refused(request, `a valid URL as its realm: got ${JSON.stringify(request.realm.slice(0, 200))}`);
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw refused(request, `an http(s) URL as its realm: got ${url.protocol}`);
    if (request.service !== undefined) url.searchParams.set('service', request.service);
    // A challenge may ask for several scopes, space-separated; the token API takes each as its own parameter.
    for (const scope of (request.scope ?? '').split(' ').filter(Boolean)) url.searchParams.append('scope', scope);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (creds !== undefined) headers.authorization = `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`;
    const started = this.now();
    let res: Response;
    try {
      res = await fetchWithRetry(this.options.fetch ?? fetch, url.toString(), headers, this.options.policy);
    } catch (err) {
      throw unreachable(err, `get a registry token from ${request.realm}`, url.host);
    }
    const text = await readText(res, request);
    if (res.status !== 200) {
      const who = creds === undefined ? 'anonymously' : `as ${JSON.stringify(creds.username)}`;
      throw refused(request, `a token ${who}: got HTTP ${res.status}${text.trim() === '' ? '' : `: ${text.trim().slice(0, 300)}`}`, res.status);
    }
    let body: { token?: unknown; access_token?: unknown; expires_in?: unknown };
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      throw refused(request, 'JSON with a token: got a body that is not JSON', res.status);
    }
    const token = typeof body.token === 'string' && body.token !== '' ? body.token : body.access_token;
    if (typeof token !== 'string' || token === '') throw refused(request, "JSON with 'token' or 'access_token': got neither", res.status);
    const expiresS = typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : DEFAULT_EXPIRES_S;
    // Refresh a little early, so a token does not expire between the check and its use.
    const margin = Math.min(30_000, expiresS * 100);
    this.tokens.set(key, { token, expiresAt: started + expiresS * 1000 - margin });
    return token;
  }

  private now(): number {
    return (this.options.now ?? Date.now)();
  }
}

function cacheKey(request: TokenRequest, creds: TokenCredentials | undefined): string {
  return JSON.stringify([request.realm, request.service ?? '', request.scope ?? '', creds?.username ?? '', creds === undefined ? '' : createHash('sha256').update(creds.password).digest('hex')]);
}

async function readText(res: Response, request: TokenRequest): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  if (res.body === null) return '';
  for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
    size += chunk.length;
    if (size > MAX_TOKEN_RESPONSE) throw refused(request, 'a token response of at most 1 MiB: got more', res.status);
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks).toString('utf8');
}

function refused(request: TokenRequest, rule: string, status?: number): AloftError {
  return new AloftError('IMAGE_PULL_UNAUTHORIZED', `Cannot get a registry token as token server ${request.realm} must give ${rule}`, {
    details: { realm: request.realm, ...(request.service === undefined ? {} : { service: request.service }), ...(request.scope === undefined ? {} : { scope: request.scope }), ...(status === undefined ? {} : { status }) },
  });
}
