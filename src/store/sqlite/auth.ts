import type { Database } from 'better-sqlite3';
import type { ApiToken, Org } from '../auth-store.ts';
import { orgExists, orgNotFound, tokenNotFound, tokenTaken } from '../store-errors-auth.ts';

/** The SQLite half of the AuthStore: orgs and hashed API tokens. Writes run inside the caller's transaction. */

interface OrgRow {
  slug: string;
  name: string;
  created_at: number;
}

interface TokenRow {
  id: string;
  name: string;
  org_slug: string;
  app_name: string | null;
  read_only: number;
  hash: string;
  created_at: number;
  revoked_at: number | null;
}

function orgFromRow(row: OrgRow): Org {
  return { slug: row.slug, name: row.name, createdAt: row.created_at };
}

function tokenFromRow(row: TokenRow): ApiToken {
  return {
    id: row.id,
    name: row.name,
    orgSlug: row.org_slug,
    ...(row.app_name === null ? {} : { appName: row.app_name }),
    readOnly: row.read_only === 1,
    hash: row.hash,
    createdAt: row.created_at,
    ...(row.revoked_at === null ? {} : { revokedAt: row.revoked_at }),
  };
}

export function insertOrg(db: Database, org: Org): Org {
  if (readOrg(db, org.slug)) throw orgExists(org.slug);
  db.prepare('INSERT INTO orgs (slug, name, created_at) VALUES (?, ?, ?)').run(org.slug, org.name, org.createdAt);
  return { ...org };
}

export function readOrg(db: Database, slug: string): Org | undefined {
  const row = db.prepare<[string], OrgRow>('SELECT * FROM orgs WHERE slug = ?').get(slug);
  return row && orgFromRow(row);
}

export function readOrgs(db: Database): Org[] {
  return db.prepare<[], OrgRow>('SELECT * FROM orgs ORDER BY slug').all().map(orgFromRow);
}

export function insertToken(db: Database, token: ApiToken): ApiToken {
  if (!readOrg(db, token.orgSlug)) throw orgNotFound(`create token ${token.id}`, token.orgSlug);
  if (db.prepare('SELECT 1 FROM api_tokens WHERE id = ? OR hash = ?').get(token.id, token.hash) !== undefined) {
    throw tokenTaken(token.id);
  }
  db.prepare(
    `INSERT INTO api_tokens (id, name, org_slug, app_name, read_only, hash, created_at, revoked_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
  ).run(token.id, token.name, token.orgSlug, token.appName ?? null, token.readOnly ? 1 : 0, token.hash, token.createdAt, token.revokedAt ?? null);
  return readToken(db, token.id)!;
}

function readToken(db: Database, id: string): ApiToken | undefined {
  const row = db.prepare<[string], TokenRow>('SELECT * FROM api_tokens WHERE id = ?').get(id);
  return row && tokenFromRow(row);
}

export function readTokenByHash(db: Database, hash: string): ApiToken | undefined {
  const row = db.prepare<[string], TokenRow>('SELECT * FROM api_tokens WHERE hash = ?').get(hash);
  return row && tokenFromRow(row);
}

export function readTokens(db: Database, filter: { orgSlug?: string }): ApiToken[] {
  const rows =
    filter.orgSlug === undefined
      ? db.prepare<[], TokenRow>('SELECT * FROM api_tokens ORDER BY created_at, id').all()
      : db.prepare<[string], TokenRow>('SELECT * FROM api_tokens WHERE org_slug = ? ORDER BY created_at, id').all(filter.orgSlug);
  return rows.map(tokenFromRow);
}

export function markTokenRevoked(db: Database, id: string, now: number): ApiToken {
  if (!readToken(db, id)) throw tokenNotFound('revoke', id);
  db.prepare('UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?').run(now, id);
  return readToken(db, id)!;
}
