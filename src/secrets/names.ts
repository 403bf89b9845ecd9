import { AloftError, formatValue } from '../lib/errors.ts';

/** Fly's rule for secret names: an environment variable name that is not the platform's. */
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Longer names are almost certainly a mistake (a value pasted as a name); Linux has no limit of its own. */
export const MAX_NAME_LENGTH = 256;
/** flyctl reads at most 64 KiB for a `NAME=-` value; the same cap for every value. */
export const MAX_VALUE_BYTES = 64 * 1024;
/** Fly reserves these for the platform's own variables (PLATFORM.md: "names may not start with FLY_"). */
const RESERVED_PREFIX = 'FLY_';

/**
 * Checks a secret's name: an environment variable name ([A-Za-z_][A-Za-z0-9_]*), at most
 * 256 long, not starting with FLY_. Throws SECRET_INVALID in the house format.
 */
export function checkSecretName(name: unknown, action = 'set secret'): string {
  if (typeof name !== 'string' || !NAME.test(name) || name.length > MAX_NAME_LENGTH) {
    throw new AloftError(
      'SECRET_INVALID',
      `Cannot ${action} as 'name' must be an environment variable name (a letter or _, then letters, digits or _; at most ${MAX_NAME_LENGTH}): got ${formatValue(name)}`,
      { details: { field: 'name' } },
    );
  }
  if (name.startsWith(RESERVED_PREFIX)) {
    throw new AloftError('SECRET_INVALID', `Cannot ${action} as 'name' must not start with ${RESERVED_PREFIX} (the platform's own variables): got ${formatValue(name)}`, {
      details: { field: 'name' },
    });
  }
  return name;
}

/**
 * Checks a secret's value: a non-empty string of at most 64 KiB (UTF-8) with no NUL byte
 * (an environment cannot carry one). The error names the secret and the rule, never the
 * value: error messages reach logs and terminals.
 */
export function checkSecretValue(name: string, value: unknown, action = 'set secret'): string {
  const field = `secrets.${name}`;
  const refuse = (rule: string, got: string): AloftError =>
    new AloftError('SECRET_INVALID', `Cannot ${action} as '${field}' must be ${rule}: got ${got}`, { details: { field } });
  if (typeof value !== 'string') throw refuse('a string', typeof value === 'object' ? (value === null ? 'null' : 'an object') : `a ${typeof value}`);
  if (value === '') throw refuse('a non-empty string (unset the secret to remove it)', 'an empty string');
  const bytes = Buffer.byteLength(value, 'utf8');
  if (bytes > MAX_VALUE_BYTES) throw refuse(`at most ${MAX_VALUE_BYTES} bytes`, `${bytes} bytes`);
  const nul = value.indexOf('\0');
  if (nul !== -1) throw refuse('free of NUL bytes (an environment variable cannot hold one)', `one at offset ${nul}`);
  return value;
}
