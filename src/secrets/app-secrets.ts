import { AloftError } from '../lib/errors.ts';
import type { App } from '../model/index.ts';
import type { StoredSecret } from '../store/secret-store.ts';
import type { Store } from '../store/store.ts';
import { checkSecretName } from './names.ts';
import type { RolloutResult, SecretsRollout } from './rollout.ts';
import type { SecretVault } from './vault.ts';

/** What a change answers: the app's secrets after it (no values) and the Machines restarted. */
export interface SecretsChangeResult {
  secrets: StoredSecret[];
  /** Absent when the change was staged. */
  rollout?: RolloutResult;
}

export interface AppSecretsDeps {
  store: Store;
  /** Seals values. Without one (an API started with no secrets key) secrets can be listed and unset, not set. */
  vault?: SecretVault | undefined;
  rollout: SecretsRollout;
}

/**
 * An app's secrets, apart from HTTP: list, set, unset, deploy. Every write is staged in
 * the store first; unless the caller asked to stage, the rollout then restarts the app's
 * Machines, and only after it succeeds are the written secrets marked deployed. So a
 * failed rollout leaves them staged, and `deploy` tries again.
 */
export class AppSecrets {
  readonly #d: AppSecretsDeps;

  constructor(deps: AppSecretsDeps) {
    this.#d = deps;
  }

  list(app: App): Promise<StoredSecret[]> {
    return this.#d.store.listSecrets(app.name);
  }

  async set(app: App, values: Readonly<Record<string, string>>, options: { stage: boolean }): Promise<SecretsChangeResult> {
    if (Object.keys(values).length === 0) {
      throw new AloftError('SECRET_INVALID', `Cannot set secrets of app "${app.name}" as 'secrets' must name at least one secret: got none`, { details: { field: 'secrets' } });
    }
    const vault = this.#d.vault;
    if (!vault) {
      throw new AloftError('SECRETS_KEY_INVALID', `Cannot set secrets of app "${app.name}" as this API must have the platform's secrets key: got none (started without one)`);
    }
    const set = await vault.seal(app, values);
    const written = await this.#d.store.writeSecrets(app.name, { set });
    return this.#finish(app, written, options.stage);
  }

  async unset(app: App, names: readonly string[], options: { stage: boolean }): Promise<SecretsChangeResult> {
    if (names.length === 0) {
      throw new AloftError('SECRET_INVALID', `Cannot unset secrets of app "${app.name}" as 'names' must name at least one secret: got none`, { details: { field: 'names' } });
    }
    for (const name of names) checkSecretName(name, 'unset secret');
    const written = await this.#d.store.writeSecrets(app.name, { unset: [...new Set(names)] });
    return this.#finish(app, written, options.stage);
  }

  /** Rolls out whatever is staged (nothing restarts when nothing is). */
  async deploy(app: App): Promise<SecretsChangeResult> {
    const secrets = await this.#d.store.listSecrets(app.name);
    if (secrets.every((s) => s.status === 'deployed')) return { secrets, rollout: { machines: [] } };
    return this.#finish(app, secrets, false);
  }

  /**
   * The rollout gives Machines every current secret, so everything staged as of this write
   * (earlier `--stage` writes too) is deployed after it; only these versions, though: a
   * write racing the rollout stays staged.
   */
  async #finish(app: App, written: StoredSecret[], stage: boolean): Promise<SecretsChangeResult> {
    if (stage) return { secrets: written };
    const seen = written.filter((s) => s.status !== 'deployed').map((s) => ({ name: s.name, updatedAt: s.updatedAt }));
    const rollout = await this.#d.rollout.rollout(app.name);
    return { secrets: await this.#d.store.markSecretsDeployed(app.name, seen), rollout };
  }
}
