import type { ApiToken, AuthStore, Org } from '../auth-store.ts';
import { orgExists, orgNotFound, tokenNotFound, tokenTaken } from '../store-errors-auth.ts';
import { getJson, listJson, type EtcdContext } from './context.ts';
import { byCreation, compareText } from './order.ts';

/**
 * The AuthStore half of EtcdStore: `orgs/<slug>`, `tokens/<id>` and the
 * `idx/token-hash/<hash>` index (written in the same transaction, so a hash is unique).
 */
export class EtcdAuth implements AuthStore {
  readonly #c: EtcdContext;

  constructor(context: EtcdContext) {
    this.#c = context;
  }

  async createOrg(org: Org): Promise<Org> {
    return this.#c.write('create org', async (tx) => {
      if (await tx.get(this.#c.keys.key('orgs', org.slug))) throw orgExists(org.slug);
      const stored: Org = { slug: org.slug, name: org.name, createdAt: org.createdAt };
      tx.putJson(this.#c.keys.key('orgs', org.slug), stored);
      return stored;
    });
  }

  async getOrg(slug: string): Promise<Org | undefined> {
    return this.#c.read('get org', (tx) => getJson<Org>(tx, this.#c.keys.key('orgs', slug)));
  }

  async listOrgs(): Promise<Org[]> {
    const orgs = await this.#c.read('list orgs', (tx) => listJson<Org>(tx, this.#c.keys.dir('orgs')));
    return orgs.sort((a, b) => compareText(a.slug, b.slug));
  }

  async createToken(token: ApiToken): Promise<ApiToken> {
    return this.#c.write('create token', async (tx) => {
      if (!(await tx.get(this.#c.keys.key('orgs', token.orgSlug)))) throw orgNotFound(`create token ${token.id}`, token.orgSlug);
      const hashKey = this.#c.keys.key('idx', 'token-hash', token.hash);
      if ((await tx.get(this.#c.keys.key('tokens', token.id))) || (await tx.get(hashKey))) throw tokenTaken(token.id);
      const stored: ApiToken = { ...token };
      tx.putJson(this.#c.keys.key('tokens', token.id), stored);
      tx.put(hashKey, token.id);
      return stored;
    });
  }

  async findTokenByHash(hash: string): Promise<ApiToken | undefined> {
    return this.#c.read('find token', async (tx) => {
      const id = (await tx.get(this.#c.keys.key('idx', 'token-hash', hash)))?.value.toString();
      return id === undefined ? undefined : getJson<ApiToken>(tx, this.#c.keys.key('tokens', id));
    });
  }

  async listTokens(filter: { orgSlug?: string } = {}): Promise<ApiToken[]> {
    const tokens = await this.#c.read('list tokens', (tx) => listJson<ApiToken>(tx, this.#c.keys.dir('tokens')));
    return tokens.filter((t) => filter.orgSlug === undefined || t.orgSlug === filter.orgSlug).sort(byCreation);
  }

  async revokeToken(id: string, now: number): Promise<ApiToken> {
    return this.#c.write('revoke token', async (tx) => {
      const token = await getJson<ApiToken>(tx, this.#c.keys.key('tokens', id));
      if (!token) throw tokenNotFound('revoke', id);
      // Revoking twice keeps the first time.
      if (token.revokedAt !== undefined) return token;
      const revoked: ApiToken = { ...token, revokedAt: now };
      tx.putJson(this.#c.keys.key('tokens', id), revoked);
      return revoked;
    });
  }
}
