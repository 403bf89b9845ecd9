import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { AloftError } from '../lib/errors.ts';

/**
 * Envelope encryption for app secrets, with node:crypto only:
 *
 *   platform key (32 bytes, a file on the host)
 *     └─ wraps, per org, a random 32-byte data key        (AES-256-GCM, AAD = org)
 *          └─ seals each secret value                      (AES-256-GCM, AAD = org/app/name)
 *
 * Every seal takes a fresh random 12-byte nonce. The AAD binds a ciphertext to where it
 * belongs, so a row copied into another app's or name's place fails to open instead of
 * handing one app's secret to another. The digest shown by `secrets list` is an HMAC under
 * a key derived from the data key, never a plain hash: a short secret cannot be guessed
 * from the list by hashing candidates.
 */

export const KEY_BYTES = 32;
export const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const CIPHER = 'aes-256-gcm';
/** Bumped if the layout ever changes; part of every AAD so old and new never mix silently. */
const VERSION = 'aloft-secrets-v1';

/** Where a secret lives; bound into its ciphertext. */
export interface SecretAddress {
  orgSlug: string;
  appName: string;
  name: string;
}

/** A sealed value: `ciphertext` ends with the 16-byte GCM tag. */
export interface SealedValue {
  ciphertext: Buffer;
  nonce: Buffer;
}

/** A fresh random data key for an org. */
export function newDataKey(): Buffer {
  return randomBytes(KEY_BYTES);
}

/**
 * A short public name for a key (16 hex of an HMAC under it), so an error can say which
 * key wrapped a data key without revealing anything about the key itself.
 */
export function keyId(key: Buffer): string {
  return createHmac('sha256', key).update(`${VERSION} key id`).digest('hex').slice(0, 16);
}

/** Wraps an org's data key under the platform key: nonce ‖ ciphertext ‖ tag. */
export function wrapDataKey(platformKey: Buffer, orgSlug: string, dataKey: Buffer): Buffer {
  const nonce = randomBytes(NONCE_BYTES);
  const { ciphertext } = seal(platformKey, nonce, orgAad(orgSlug), dataKey);
  return Buffer.concat([nonce, ciphertext]);
}

/** Opens a wrapped data key. Throws SECRETS_KEY_INVALID when the platform key (or the org) is not the one it was wrapped for. */
export function unwrapDataKey(platformKey: Buffer, orgSlug: string, wrapped: Uint8Array): Buffer {
  const buffer = Buffer.from(wrapped);
  const nonce = buffer.subarray(0, NONCE_BYTES);
  const key = open(platformKey, nonce, orgAad(orgSlug), buffer.subarray(NONCE_BYTES));
  if (key === undefined || key.length !== KEY_BYTES) {
    throw new AloftError(
      'SECRETS_KEY_INVALID',
      `Cannot open the data key of org "${orgSlug}" as it must be wrapped under this platform's secrets key (id ${keyId(platformKey)}): got one that does not open with it (another key file, or a tampered row)`,
    );
  }
  return key;
}

/** Seals one secret value under its org's data key, bound to its address. */
export function sealValue(dataKey: Buffer, where: SecretAddress, value: string): SealedValue {
  const nonce = randomBytes(NONCE_BYTES);
  return seal(valueKey(dataKey), nonce, valueAad(where), Buffer.from(value, 'utf8'));
}

/** Opens a sealed value. Throws SECRET_DECRYPT_FAILED when it was tampered with, moved, or sealed under another key. */
export function openValue(dataKey: Buffer, where: SecretAddress, sealed: { ciphertext: Uint8Array; nonce: Uint8Array }): string {
  const plain = open(valueKey(dataKey), Buffer.from(sealed.nonce), valueAad(where), Buffer.from(sealed.ciphertext));
  if (plain === undefined) {
    throw new AloftError(
      'SECRET_DECRYPT_FAILED',
      `Cannot open secret ${where.name} of app "${where.appName}" as it must authenticate under org "${where.orgSlug}"'s data key at this address: got a ciphertext that does not (tampered with, moved from another row, or sealed under another key)`,
    );
  }
  return plain.toString('utf8');
}

/** What `secrets list` shows for a value: 16 hex of an HMAC under a key derived from the org's data key. */
export function secretDigest(dataKey: Buffer, value: string): string {
  return createHmac('sha256', subkey(dataKey, 'digest')).update(value, 'utf8').digest('hex').slice(0, 16);
}

/** Separate keys for sealing and for digests, so the digest's MAC never shares a key with the cipher. */
function valueKey(dataKey: Buffer): Buffer {
  return subkey(dataKey, 'values');
}

function subkey(dataKey: Buffer, purpose: string): Buffer {
  return Buffer.from(hkdfSync('sha256', dataKey, Buffer.alloc(0), `${VERSION} ${purpose}`, KEY_BYTES));
}

function orgAad(orgSlug: string): Buffer {
  return Buffer.from(`${VERSION}\0data-key\0${orgSlug}`, 'utf8');
}

function valueAad(where: SecretAddress): Buffer {
  // NUL cannot occur in org slugs, app names or secret names, so the fields cannot run together.
  return Buffer.from(`${VERSION}\0value\0${where.orgSlug}\0${where.appName}\0${where.name}`, 'utf8');
}

function seal(key: Buffer, nonce: Buffer, aad: Buffer, plain: Buffer): SealedValue {
  const cipher = createCipheriv(CIPHER, key, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad);
  const ciphertext = Buffer.concat([cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
  return { ciphertext, nonce };
}

/** The plaintext, or undefined when authentication fails (wrong key, AAD, nonce or bytes). */
function open(key: Buffer, nonce: Buffer, aad: Buffer, sealed: Buffer): Buffer | undefined {
  if (nonce.length !== NONCE_BYTES || sealed.length < TAG_BYTES) return undefined;
  try {
    const decipher = createDecipheriv(CIPHER, key, nonce, { authTagLength: TAG_BYTES });
    decipher.setAAD(aad);
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
    return Buffer.concat([decipher.update(sealed.subarray(0, sealed.length - TAG_BYTES)), decipher.final()]);
  } catch {
    return undefined;
  }
}
