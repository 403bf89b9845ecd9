import { createHash } from 'node:crypto';
import { token } from '../../lib/ids.ts';

/** Prefix of org tokens' secrets, so a leaked one is recognisable (secret scanners, logs). */
const PREFIX = 'aloft_';

/** A new token secret: 32 random bytes. Shown once; only its hash is stored. */
export function newTokenSecret(): string {
  return `${PREFIX}${token()}`;
}

/**
 * The stored form of a secret. A plain sha256 suffices (no salt, no slow hash): the
 * secret has 256 random bits, so there is no dictionary to attack, and a lookup by hash
 * needs the hash to be deterministic.
 */
export function hashTokenSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}
