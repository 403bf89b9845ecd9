/**
 * App secrets: envelope encryption (a platform key file wraps a per-org data key, which
 * seals each value with AES-256-GCM bound to org/app/name), the vault that seals and
 * opens them, the rolling restart that gives them to running Machines, and Fly's rules
 * for names and values. The store keeps only ciphertext (store/secret-store.ts).
 */
export { AppSecrets, type AppSecretsDeps, type SecretsChangeResult } from './app-secrets.ts';
export { keyId, newDataKey, openValue, sealValue, secretDigest, unwrapDataKey, wrapDataKey, KEY_BYTES, type SealedValue, type SecretAddress } from './envelope.ts';
export { parseSecretsImport } from './import-format.ts';
export { ensurePlatformKey, platformKeyPath, readPlatformKey } from './key-file.ts';
export type { MachineSecrets } from './machine-secrets.ts';
export { checkSecretName, checkSecretValue, MAX_VALUE_BYTES } from './names.ts';
export { RestartRollout, type RestartRolloutOptions, type RolloutResult, type SecretsRollout } from './rollout.ts';
export { SecretVault, type VaultStore } from './vault.ts';
