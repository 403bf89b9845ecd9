/**
 * The Store's app secrets, only ever as ciphertext (src/secrets seals and opens them):
 * each org's data key wrapped under the platform key, and each app's secrets sealed
 * under its org's data key. Part of `Store`; the contract is contract/secrets.ts.
 *
 * Every write leaves what it touched `staged`; `markSecretsDeployed` records that a
 * rollout has given them to the app's Machines (a staged unset is then removed). A
 * Machine reads the current values whenever it boots, staged or not, as on Fly.
 */
export interface SecretStore {
  /** The org's wrapped data key, if it has one yet. */
  getOrgDataKey(orgSlug: string): Promise<OrgDataKey | undefined>;
  /**
   * Records the org's wrapped data key unless it already has one, and returns the one
   * stored: of two racing first writers, both get the winner's key.
   */
  putOrgDataKey(key: OrgDataKey): Promise<OrgDataKey>;
  /** The app's secrets by name, staged unsets included. */
  listSecrets(appName: string): Promise<StoredSecret[]>;
  /**
   * Sets and unsets secrets of an app in one transaction, all staged, and returns the
   * app's secrets after it. A set keeps the secret's `createdAt`; every write moves a
   * secret's `updatedAt` forward by at least 1 ms, so it names one version. Throws APP_NOT_FOUND;
   * SECRET_INVALID for a bad name or a name both set and unset; SECRET_NOT_FOUND when an
   * unset names no secret (then nothing is written).
   */
  writeSecrets(appName: string, write: SecretsWrite): Promise<StoredSecret[]>;
  /**
   * Marks staged secrets deployed, and deletes staged unsets, but only those whose
   * `updatedAt` is still the one in `seen`: a secret written again since the rollout
   * began stays staged. Returns the app's secrets after it.
   */
  markSecretsDeployed(appName: string, seen: readonly { name: string; updatedAt: number }[]): Promise<StoredSecret[]>;
}

/** An org's data key, wrapped (nonce ‖ ciphertext ‖ tag) under the platform key `keyId`. */
export interface OrgDataKey {
  orgSlug: string;
  wrapped: Buffer;
  /** Which platform key wrapped it (envelope.ts keyId), for error messages. */
  keyId: string;
  createdAt: number;
}

/** A value sealed under the org's data key; `ciphertext` ends with the GCM tag. */
export interface SealedSecret {
  ciphertext: Buffer;
  nonce: Buffer;
  /** 16 hex of an HMAC of the value (never a plain hash), for `secrets list`. */
  digest: string;
}

/**
 * `deployed`: the app's Machines were restarted with it; `staged`: set since the last
 * rollout; `staged_unset`: unset since then (no value kept; removed on the next rollout).
 */
export type SecretStatus = 'deployed' | 'staged' | 'staged_unset';

export interface StoredSecret {
  appName: string;
  name: string;
  status: SecretStatus;
  /** Absent exactly when `status` is `staged_unset`. */
  sealed?: SealedSecret;
  createdAt: number;
  updatedAt: number;
}

export interface SecretsWrite {
  set?: readonly ({ name: string } & SealedSecret)[];
  unset?: readonly string[];
}
