import { AloftError } from '../lib/errors.ts';
import type { App, Machine } from '../model/index.ts';
import type { SecretStore, SecretsWrite, StoredSecret } from '../store/secret-store.ts';
import type { Store } from '../store/store.ts';
import { keyId, newDataKey, openValue, sealValue, secretDigest, unwrapDataKey, wrapDataKey } from './envelope.ts';
import type { MachineSecrets } from './machine-secrets.ts';
import { checkSecretName, checkSecretValue } from './names.ts';

/** The part of the Store the vault uses. */
export type VaultStore = SecretStore & Pick<Store, 'getApp'>;

/**
 * Seals and opens app secrets with the platform key (envelope.ts): the only holder of
 * the key in a running platform. The API seals with it; the agent opens with it, through
 * the MachineSecrets face, when a Machine boots. Plaintexts live only in the arguments and
 * results of these calls, never in the store, an error message or a log line.
 */
export class SecretVault implements MachineSecrets {
  readonly #store: VaultStore;
  readonly #platformKey: Buffer;
  readonly #now: () => number;

  constructor(store: VaultStore, platformKey: Buffer, options: { now?: () => number } = {}) {
    this.#store = store;
    this.#platformKey = platformKey;
    this.#now = options.now ?? Date.now;
  }

  /**
   * Checks and seals `values` for `app` (creating its org's data key on first use), ready
   * for the store's writeSecrets. Throws SECRET_INVALID naming the first bad name or value.
   */
  async seal(app: App, values: Readonly<Record<string, string>>): Promise<NonNullable<SecretsWrite['set']>> {
    const entries = Object.entries(values);
    for (const [name, value] of entries) checkSecretValue(checkSecretName(name), value);
    const dataKey = await this.#dataKey(app.orgSlug, true);
    return entries.map(([name, value]) => ({
      name,
      ...sealValue(dataKey, { orgSlug: app.orgSlug, appName: app.name, name }, value),
      digest: secretDigest(dataKey, value),
    }));
  }

  /** The app's secrets, opened: NAME → value. Throws SECRET_DECRYPT_FAILED or SECRETS_KEY_INVALID when a row does not open. */
  async open(app: App, secrets?: readonly StoredSecret[]): Promise<Record<string, string>> {
    const rows = (secrets ?? (await this.#store.listSecrets(app.name))).filter((s) => s.sealed !== undefined);
    if (rows.length === 0) return {};
    const dataKey = await this.#dataKey(app.orgSlug, false);
    const env: Record<string, string> = {};
    for (const row of rows) env[row.name] = openValue(dataKey, { orgSlug: app.orgSlug, appName: app.name, name: row.name }, row.sealed!);
    return env;
  }

  async envFor(machine: Machine): Promise<Record<string, string>> {
    const app = await this.#store.getApp(machine.appName);
    // A Machine outlives nothing of its app: without the app there is nothing to inject.
    if (!app) return {};
    return this.open(app);
  }

  /** The org's data key, unwrapped; made, wrapped and stored first when `create` and it has none. */
  async #dataKey(orgSlug: string, create: boolean): Promise<Buffer> {
    let stored = await this.#store.getOrgDataKey(orgSlug);
    if (!stored) {
      if (!create) {
        throw new AloftError('SECRETS_KEY_INVALID', `Cannot open secrets of org "${orgSlug}" as it must have a data key: got none stored (its secrets rows were written without one)`);
      }
      const fresh = newDataKey();
      stored = await this.#store.putOrgDataKey({ orgSlug, wrapped: wrapDataKey(this.#platformKey, orgSlug, fresh), keyId: keyId(this.#platformKey), createdAt: this.#now() });
    }
    if (stored.keyId !== keyId(this.#platformKey)) {
      throw new AloftError(
        'SECRETS_KEY_INVALID',
        `Cannot open the data key of org "${orgSlug}" as it must be wrapped under this platform's secrets key (id ${keyId(this.#platformKey)}): got one wrapped under key id ${stored.keyId} (restore that secrets.key file)`,
      );
    }
    return unwrapDataKey(this.#platformKey, orgSlug, stored.wrapped);
  }
}
