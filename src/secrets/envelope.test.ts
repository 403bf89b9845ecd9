import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { isAloftError } from '../lib/errors.ts';
import { keyId, newDataKey, openValue, sealValue, secretDigest, unwrapDataKey, wrapDataKey, type SecretAddress } from './envelope.ts';

const here: SecretAddress = { orgSlug: 'acme', appName: 'web', name: 'DATABASE_URL' };
const VALUE = 'postgres://user:hunter2@db.internal:5432/app';

const throwsCode = (fn: () => unknown, code: 'SECRET_DECRYPT_FAILED' | 'SECRETS_KEY_INVALID'): void => {
  assert.throws(fn, (err: unknown) => {
    assert.ok(isAloftError(err, code), String(err));
    assert.ok(!err.message.includes(VALUE), 'the message never holds the value');
    return true;
  });
};

describe('envelope encryption', () => {
  test('a value sealed under a data key opens with it at the same address; the ciphertext holds no plaintext', () => {
    const key = newDataKey();
    const sealed = sealValue(key, here, VALUE);
    assert.equal(sealed.nonce.length, 12);
    assert.equal(sealed.ciphertext.length, Buffer.byteLength(VALUE) + 16, 'ciphertext ‖ 16-byte tag');
    assert.equal(sealed.ciphertext.includes(Buffer.from(VALUE)), false);
    assert.equal(openValue(key, here, sealed), VALUE);
    assert.equal(openValue(key, here, sealValue(key, here, 'ünïcødé ✓\nline two')), 'ünïcødé ✓\nline two');
  });

  test('every seal takes a fresh nonce, so equal values give different ciphertexts', () => {
    const key = newDataKey();
    const a = sealValue(key, here, VALUE);
    const b = sealValue(key, here, VALUE);
    assert.notDeepEqual(a.nonce, b.nonce);
    assert.notDeepEqual(a.ciphertext, b.ciphertext);
  });

  test('the wrong data key fails', () => {
    const sealed = sealValue(newDataKey(), here, VALUE);
    throwsCode(() => openValue(newDataKey(), here, sealed), 'SECRET_DECRYPT_FAILED');
  });

  test('a tampered ciphertext, tag or nonce fails', () => {
    const key = newDataKey();
    const sealed = sealValue(key, here, VALUE);
    for (const at of [0, 10, sealed.ciphertext.length - 1]) {
      const ciphertext = Buffer.from(sealed.ciphertext);
      ciphertext[at]! ^= 0x01;
      throwsCode(() => openValue(key, here, { ...sealed, ciphertext }), 'SECRET_DECRYPT_FAILED');
    }
    const nonce = Buffer.from(sealed.nonce);
    nonce[0]! ^= 0x80;
    throwsCode(() => openValue(key, here, { ...sealed, nonce }), 'SECRET_DECRYPT_FAILED');
    throwsCode(() => openValue(key, here, { ...sealed, ciphertext: sealed.ciphertext.subarray(0, 8) }), 'SECRET_DECRYPT_FAILED');
  });

  test('a row moved to another name, app or org fails (the address is bound in as AAD)', () => {
    const key = newDataKey();
    const sealed = sealValue(key, here, VALUE);
    for (const elsewhere of [{ ...here, name: 'OTHER' }, { ...here, appName: 'web2' }, { ...here, orgSlug: 'evil' }]) {
      throwsCode(() => openValue(key, elsewhere, sealed), 'SECRET_DECRYPT_FAILED');
    }
  });

  test('a data key wrapped under the platform key unwraps only with that key and for that org', () => {
    const platform = randomBytes(32);
    const data = newDataKey();
    const wrapped = wrapDataKey(platform, 'acme', data);
    assert.equal(wrapped.length, 12 + 32 + 16);
    assert.equal(wrapped.includes(data), false);
    assert.deepEqual(unwrapDataKey(platform, 'acme', wrapped), data);
    throwsCode(() => unwrapDataKey(randomBytes(32), 'acme', wrapped), 'SECRETS_KEY_INVALID');
    throwsCode(() => unwrapDataKey(platform, 'other-org', wrapped), 'SECRETS_KEY_INVALID');
    const tampered = Buffer.from(wrapped);
    tampered[20]! ^= 1;
    throwsCode(() => unwrapDataKey(platform, 'acme', tampered), 'SECRETS_KEY_INVALID');
  });

  test('the digest is 16 hex, stable under one data key, different under another, and not a plain hash', () => {
    const key = newDataKey();
    const digest = secretDigest(key, 'short');
    assert.match(digest, /^[0-9a-f]{16}$/);
    assert.equal(secretDigest(key, 'short'), digest);
    assert.notEqual(secretDigest(key, 'shorT'), digest);
    assert.notEqual(secretDigest(newDataKey(), 'short'), digest);
    for (const algorithm of ['sha256', 'sha1', 'md5']) {
      assert.equal(createHash(algorithm).update('short').digest('hex').startsWith(digest), false, `${algorithm} of the value is not the digest`);
    }
  });

  test('a key id names a key without revealing it', () => {
    const key = randomBytes(32);
    assert.match(keyId(key), /^[0-9a-f]{16}$/);
    assert.equal(keyId(key), keyId(Buffer.from(key)));
    assert.notEqual(keyId(key), keyId(randomBytes(32)));
    assert.equal(key.toString('hex').includes(keyId(key)), false);
  });
});
