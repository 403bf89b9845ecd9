/**
 * Organizations and API tokens. An org owns apps; a token acts within one org, can be
 * narrowed to one app and to reads only. Only a token's sha256 hash is stored: the
 * secret is shown once, at creation, and cannot be recovered from the store.
 */

export interface Org {
  slug: string;
  name: string;
  createdAt: number;
}

/** A token's record. The secret itself is never stored, only `hash`. */
export interface ApiToken {
  id: string;
  name: string;
  orgSlug: string;
  /** When set, the token sees and changes only this app. */
  appName?: string;
  readOnly: boolean;
  /** Hex sha256 of the secret. */
  hash: string;
  createdAt: number;
  /** Set once revoked; a revoked token is refused at once. */
  revokedAt?: number;
}

/** The part of the Store that keeps orgs and tokens. */
export interface AuthStore {
  /** Throws ORG_EXISTS when the slug is taken. */
  createOrg(org: Org): Promise<Org>;
  getOrg(slug: string): Promise<Org | undefined>;
  /** By slug. */
  listOrgs(): Promise<Org[]>;
  /** Throws ORG_NOT_FOUND when its org does not exist, STORE_CONFLICT when id or hash is taken. */
  createToken(token: ApiToken): Promise<ApiToken>;
  /** The token with this hash, revoked or not (the caller decides what revoked means). */
  findTokenByHash(hash: string): Promise<ApiToken | undefined>;
  /** Oldest first; only `orgSlug`'s when given. Revoked tokens are included. */
  listTokens(filter?: { orgSlug?: string }): Promise<ApiToken[]>;
  /** Marks the token revoked at `now` and returns it. Throws TOKEN_NOT_FOUND. Revoking twice keeps the first time. */
  revokeToken(id: string, now: number): Promise<ApiToken>;
}
