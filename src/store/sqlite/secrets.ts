import type { Statement } from 'better-sqlite3';
import { AloftError, formatValue } from '../../lib/errors.ts';
import { checkSecretName } from '../../secrets/names.ts';
import type { OrgDataKey, SecretStatus, SecretStore, SecretsWrite, StoredSecret } from '../secret-store.ts';

/** A row of `secrets` (migration 0007-secrets); the sealed columns are null for a staged unset. */
interface SecretRow {
  app_name: string;
  name: string;
  ciphertext: Buffer | null;
  nonce: Buffer | null;
  digest: string | null;
  status: SecretStatus;
  created_at: number;
  updated_at: number;
}

interface OrgKeyRow {
  org_slug: string;
  wrapped: Buffer;
  key_id: string;
  created_at: number;
}

const UPSERT_SECRET = `INSERT INTO secrets (app_name, name, ciphertext, nonce, digest, status, created_at, updated_at)
  VALUES (@app_name, @name, @ciphertext, @nonce, @digest, @status, @created_at, @updated_at)
  ON CONFLICT (app_name, name) DO UPDATE SET ciphertext = excluded.ciphertext, nonce = excluded.nonce,
    digest = excluded.digest, status = excluded.status, updated_at = excluded.updated_at`;

/** How SqliteStore lends its transaction, statement cache and clock. */
export interface SqliteSecretsDeps {
  write<T>(action: string, fn: () => T): Promise<T>;
  read<T>(action: string, fn: () => T): T;
  sql<P extends unknown[] = unknown[], R = unknown>(text: string): Statement<P, R>;
  now(): number;
  appExists(name: string): boolean;
}

/**
 * The SecretStore half of SqliteStore: ciphertexts only, inside SqliteStore's
 * transactions. Secrets publish no Change: the agent reads them when a Machine boots.
 */
export class SqliteSecrets implements SecretStore {
  readonly #d: SqliteSecretsDeps;

  constructor(deps: SqliteSecretsDeps) {
    this.#d = deps;
  }

  async getOrgDataKey(orgSlug: string): Promise<OrgDataKey | undefined> {
    return this.#d.read('get org data key', () => this.#orgKey(orgSlug));
  }

  async putOrgDataKey(key: OrgDataKey): Promise<OrgDataKey> {
    return this.#d.write('put org data key', () => {
      this.#d
        .sql('INSERT INTO org_data_keys (org_slug, wrapped, key_id, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (org_slug) DO NOTHING')
        .run(key.orgSlug, key.wrapped, key.keyId, key.createdAt);
      return this.#orgKey(key.orgSlug)!;
    });
  }

  async listSecrets(appName: string): Promise<StoredSecret[]> {
    return this.#d.read('list secrets', () => this.#rows(appName));
  }

  async writeSecrets(appName: string, write: SecretsWrite): Promise<StoredSecret[]> {
    const sets = write.set ?? [];
    const unsets = write.unset ?? [];
    for (const { name } of sets) checkSecretName(name);
    for (const name of unsets) checkSecretName(name, 'unset secret');
    const both = sets.find((s) => unsets.includes(s.name));
    if (both) {
      throw new AloftError('SECRET_INVALID', `Cannot change secrets as a name must be either set or unset: got ${formatValue(both.name)} in both`, {
        details: { field: 'name' },
      });
    }
    return this.#d.write('write secrets', () => {
      if (!this.#d.appExists(appName)) throw new AloftError('APP_NOT_FOUND', `Cannot change secrets of app "${appName}" as it must exist: got no app by that name`);
      const existing = new Map(this.#rawRows(appName).map((row) => [row.name, row]));
      const missing = unsets.filter((name) => !existing.has(name));
      if (missing.length > 0) {
        throw new AloftError('SECRET_NOT_FOUND', `Cannot unset secrets of app "${appName}" as each must exist: got no secret ${missing.join(', ')}`, {
          details: { names: missing },
        });
      }
      const now = this.#d.now();
      const upsert = this.#d.sql(UPSERT_SECRET);
      const stamp = (name: string): { created_at: number; updated_at: number } => {
        const row = existing.get(name);
        // Strictly later than the last write, so `updatedAt` names one version (markSecretsDeployed).
        return { created_at: row?.created_at ?? now, updated_at: row ? Math.max(now, row.updated_at + 1) : now };
      };
      for (const s of sets) {
        upsert.run({ app_name: appName, name: s.name, ciphertext: s.ciphertext, nonce: s.nonce, digest: s.digest, status: 'staged', ...stamp(s.name) });
      }
      for (const name of unsets) {
        // The value goes at once; the row stays, as a staged unset, until a rollout.
        upsert.run({ app_name: appName, name, ciphertext: null, nonce: null, digest: null, status: 'staged_unset', ...stamp(name) });
      }
      return this.#rows(appName);
    });
  }

  async markSecretsDeployed(appName: string, seen: readonly { name: string; updatedAt: number }[]): Promise<StoredSecret[]> {
    return this.#d.write('mark secrets deployed', () => {
      const deploy = this.#d.sql(`UPDATE secrets SET status = 'deployed' WHERE app_name = ? AND name = ? AND updated_at = ? AND status = 'staged'`);
      const drop = this.#d.sql(`DELETE FROM secrets WHERE app_name = ? AND name = ? AND updated_at = ? AND status = 'staged_unset'`);
      for (const { name, updatedAt } of seen) {
        deploy.run(appName, name, updatedAt);
        drop.run(appName, name, updatedAt);
      }
      return this.#rows(appName);
    });
  }

  #orgKey(orgSlug: string): OrgDataKey | undefined {
    const row = this.#d.sql<[string], OrgKeyRow>('SELECT * FROM org_data_keys WHERE org_slug = ?').get(orgSlug);
    return row && { orgSlug: row.org_slug, wrapped: row.wrapped, keyId: row.key_id, createdAt: row.created_at };
  }

  #rawRows(appName: string): SecretRow[] {
    return this.#d.sql<[string], SecretRow>('SELECT * FROM secrets WHERE app_name = ? ORDER BY name').all(appName);
  }

  #rows(appName: string): StoredSecret[] {
    return this.#rawRows(appName).map(secretFromRow);
  }
}

function secretFromRow(row: SecretRow): StoredSecret {
  const sealed =
    row.status === 'staged_unset' || row.ciphertext === null || row.nonce === null || row.digest === null
      ? undefined
      : { ciphertext: row.ciphertext, nonce: row.nonce, digest: row.digest };
  return {
    appName: row.app_name,
    name: row.name,
    status: row.status,
    ...(sealed ? { sealed } : {}),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}
