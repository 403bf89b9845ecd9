import { AloftError, formatValue } from '../../lib/errors.ts';
import { checkSecretName } from '../../secrets/names.ts';
import type { OrgDataKey, SecretStore, SecretsWrite, StoredSecret } from '../secret-store.ts';
import { getJson, listJson, type EtcdContext } from './context.ts';
import type { Tx } from './transaction.ts';

/**
 * The SecretStore half of EtcdStore, ciphertexts only: `org-keys/<org>` and
 * `secrets/<app>/<name>` (bytes as base64, codec.ts). Secrets publish no Change: the
 * agent reads them when a Machine boots. Writes read the app's secrets strictly (a
 * secret deleted meanwhile fails the commit too), so a rollout's mark and a new write
 * cannot cross.
 */
export class EtcdSecrets implements SecretStore {
  readonly #c: EtcdContext;

  constructor(context: EtcdContext) {
    this.#c = context;
  }

  async getOrgDataKey(orgSlug: string): Promise<OrgDataKey | undefined> {
    return this.#c.read('get org data key', (tx) => getJson<OrgDataKey>(tx, this.#c.keys.key('org-keys', orgSlug)));
  }

  async putOrgDataKey(key: OrgDataKey): Promise<OrgDataKey> {
    return this.#c.write('put org data key', async (tx) => {
      const existing = await getJson<OrgDataKey>(tx, this.#c.keys.key('org-keys', key.orgSlug));
      // Of two racing first writers, both get the winner's key.
      if (existing) return existing;
      const stored: OrgDataKey = { orgSlug: key.orgSlug, wrapped: key.wrapped, keyId: key.keyId, createdAt: key.createdAt };
      tx.putJson(this.#c.keys.key('org-keys', key.orgSlug), stored);
      return stored;
    });
  }

  async listSecrets(appName: string): Promise<StoredSecret[]> {
    return this.#c.read('list secrets', (tx) => this.#list(tx, appName));
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
    return this.#c.write('write secrets', async (tx) => {
      if (!(await tx.get(this.#c.keys.app(appName)))) {
        throw new AloftError('APP_NOT_FOUND', `Cannot change secrets of app "${appName}" as it must exist: got no app by that name`);
      }
      const existing = new Map((await this.#list(tx, appName)).map((s) => [s.name, s]));
      const missing = unsets.filter((name) => !existing.has(name));
      if (missing.length > 0) {
        throw new AloftError('SECRET_NOT_FOUND', `Cannot unset secrets of app "${appName}" as each must exist: got no secret ${missing.join(', ')}`, {
          details: { names: missing },
        });
      }
      const now = this.#c.now();
      const stamp = (name: string): { createdAt: number; updatedAt: number } => {
        const old = existing.get(name);
        // Strictly later than the last write, so `updatedAt` names one version (markSecretsDeployed).
        return { createdAt: old?.createdAt ?? now, updatedAt: old ? Math.max(now, old.updatedAt + 1) : now };
      };
      for (const s of sets) {
        const secret: StoredSecret = {
          appName,
          name: s.name,
          status: 'staged',
          sealed: { ciphertext: s.ciphertext, nonce: s.nonce, digest: s.digest },
          ...stamp(s.name),
        };
        existing.set(s.name, secret);
      }
      for (const name of unsets) {
        // The value goes at once; the record stays, as a staged unset, until a rollout.
        existing.set(name, { appName, name, status: 'staged_unset', ...stamp(name) });
      }
      for (const name of [...sets.map((s) => s.name), ...unsets]) tx.putJson(this.#key(appName, name), existing.get(name));
      return sortByName([...existing.values()]);
    });
  }

  async markSecretsDeployed(appName: string, seen: readonly { name: string; updatedAt: number }[]): Promise<StoredSecret[]> {
    return this.#c.write('mark secrets deployed', async (tx) => {
      const current = new Map((await this.#list(tx, appName)).map((s) => [s.name, s]));
      for (const { name, updatedAt } of seen) {
        const secret = current.get(name);
        // A secret written again since the rollout began stays staged.
        if (secret === undefined || secret.updatedAt !== updatedAt) continue;
        if (secret.status === 'staged') {
          const deployed: StoredSecret = { ...secret, status: 'deployed' };
          current.set(name, deployed);
          tx.putJson(this.#key(appName, name), deployed);
        } else if (secret.status === 'staged_unset') {
          current.delete(name);
          tx.delete(this.#key(appName, name));
        }
      }
      return sortByName([...current.values()]);
    });
  }

  #key(appName: string, name: string): string {
    return this.#c.keys.key('secrets', appName, name);
  }

  async #list(tx: Tx, appName: string): Promise<StoredSecret[]> {
    return sortByName(await listJson<StoredSecret>(tx, this.#c.keys.dir('secrets', appName), { strict: true }));
  }
}

/** By name, as SQLite's `ORDER BY name` (byte order). */
function sortByName(secrets: StoredSecret[]): StoredSecret[] {
  return secrets.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
