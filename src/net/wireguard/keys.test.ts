import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isAloftError } from '../../lib/errors.ts';
import { generateKeyPair, hexToKey, keyToHex, loadOrCreateHostKey, publicKeyOf } from './keys.ts';

// RFC 7748 §6.1: Alice's private scalar and the public key X25519 derives from it.
const RFC7748_PRIVATE = Buffer.from('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a', 'hex').toString('base64');
const RFC7748_PUBLIC = Buffer.from('8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a', 'hex').toString('base64');

describe('WireGuard keys', () => {
  it('derives the RFC 7748 public key from its private key (as `wg pubkey` does)', () => {
    assert.equal(publicKeyOf(RFC7748_PRIVATE), RFC7748_PUBLIC);
  });

  it('generates base64 keys of 32 bytes whose public half matches the private one', () => {
    const pair = generateKeyPair();
    assert.match(pair.privateKey, /^[A-Za-z0-9+/]{43}=$/);
    assert.equal(Buffer.from(pair.publicKey, 'base64').length, 32);
    assert.equal(publicKeyOf(pair.privateKey), pair.publicKey);
    assert.notEqual(generateKeyPair().privateKey, pair.privateKey);
  });

  it('converts keys to and from UAPI hex', () => {
    assert.equal(keyToHex('t', 'k', RFC7748_PUBLIC), '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a');
    assert.equal(hexToKey('8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a'), RFC7748_PUBLIC);
  });

  it('refuses anything that is not a 32-byte base64 key, naming the field', () => {
    for (const bad of ['', 'abc', `${RFC7748_PUBLIC.slice(0, -2)}B=`, `${RFC7748_PUBLIC}=`, 'x'.repeat(44)]) {
      assert.throws(
        () => publicKeyOf(bad),
        (err) => isAloftError(err, 'INVALID_ARGUMENT') && /Cannot derive public key as 'privateKey' must be a WireGuard key/.test(err.message),
      );
    }
    assert.throws(() => hexToKey('zz'), (err) => isAloftError(err, 'WIREGUARD_FAILED'));
  });

  it('creates the host key once, mode 0600, and loads the same key afterwards', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'aloft-keys-'));
    try {
      const path = join(dir, 'sub', 'wireguard.key');
      const first = await loadOrCreateHostKey(path);
      assert.equal((await stat(path)).mode & 0o777, 0o600);
      assert.equal((await readFile(path, 'utf8')).trim(), first.privateKey);
      assert.deepEqual(await loadOrCreateHostKey(path), first);
      // Two agents racing on a fresh directory end up with one key.
      const racePath = join(dir, 'race.key');
      const [a, b] = await Promise.all([loadOrCreateHostKey(racePath), loadOrCreateHostKey(racePath)]);
      assert.deepEqual(a, b);
      // A loosened file is tightened back.
      await chmod(path, 0o644);
      await loadOrCreateHostKey(path);
      assert.equal((await stat(path)).mode & 0o777, 0o600);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses (and never replaces) a key file that holds something else', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'aloft-keys-'));
    try {
      const path = join(dir, 'wireguard.key');
      await writeFile(path, 'not a key\n');
      await assert.rejects(loadOrCreateHostKey(path), (err) => isAloftError(err, 'WIREGUARD_FAILED'));
      assert.equal(await readFile(path, 'utf8'), 'not a key\n');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
