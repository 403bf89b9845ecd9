import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isAloftError } from '../lib/errors.ts';
import { checkSecretName, checkSecretValue } from './names.ts';

const refused = (fn: () => unknown, message: RegExp, secret?: string): void => {
  assert.throws(fn, (err: unknown) => {
    assert.ok(isAloftError(err, 'SECRET_INVALID'), String(err));
    assert.match(err.message, message);
    if (secret !== undefined) assert.equal(err.message.includes(secret), false, 'the value is never in the message');
    return true;
  });
};

describe("secret names and values (Fly's rules)", () => {
  test('names are environment variable names, case kept', () => {
    for (const name of ['A', '_', 'DATABASE_URL', 'api_key', 'Mixed_Case9', '_9', 'fly_lower', 'FLYING', 'X'.repeat(256)]) assert.equal(checkSecretName(name), name);
  });

  test('anything else is SECRET_INVALID in the house format, naming the value', () => {
    for (const name of ['', '9LIVES', 'A-B', 'A.B', 'A B', 'É', 'A=B', 'X'.repeat(257)]) {
      refused(() => checkSecretName(name), /^Cannot set secret as 'name' must be an environment variable name .*: got /);
    }
    refused(() => checkSecretName(42), /got 42$/);
    refused(() => checkSecretName('FLY_REGION', 'unset secret'), /^Cannot unset secret as 'name' must not start with FLY_ .*: got "FLY_REGION"$/);
  });

  test('values are non-empty strings of at most 64 KiB without NUL; the error never quotes the value', () => {
    assert.equal(checkSecretValue('K', 'x'), 'x');
    assert.equal(checkSecretValue('K', 'é'.repeat(32 * 1024)), 'é'.repeat(32 * 1024), '64 KiB of UTF-8 exactly');
    refused(() => checkSecretValue('K', ''), /'secrets.K' must be a non-empty string .*: got an empty string/);
    refused(() => checkSecretValue('K', 'hunter2' + 'x'.repeat(64 * 1024)), /'secrets.K' must be at most 65536 bytes: got 65543 bytes/, 'hunter2');
    refused(() => checkSecretValue('K', 'hunter2\0tail'), /free of NUL bytes .*: got one at offset 7/, 'hunter2');
    refused(() => checkSecretValue('K', 12345), /must be a string: got a number/, '12345');
    refused(() => checkSecretValue('K', null), /got null/);
    refused(() => checkSecretValue('K', { hunter2: 1 }), /got an object/, 'hunter2');
  });
});
