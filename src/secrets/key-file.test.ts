import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { isAloftError } from '../lib/errors.ts';
import { ensurePlatformKey, platformKeyPath, readPlatformKey } from './key-file.ts';

const dir = mkdtempSync(join(tmpdir(), 'aloft-secrets-key-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const fresh = (): string => {
  const sub = join(dir, `d${++n}`);
  rmSync(sub, { recursive: true, force: true });
  return sub;
};

const refused = async (promise: Promise<unknown>, message: RegExp): Promise<void> => {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(isAloftError(err, 'SECRETS_KEY_INVALID'), String(err));
    assert.match(err.message, message);
    return true;
  });
};

describe('the platform key file', () => {
  test('is created once: 32 random bytes, mode 0600, whatever the umask; later starts read the same key', async () => {
    const sub = fresh();
    mkdirSync(sub);
    const path = platformKeyPath(sub);
    const old = process.umask(0o000);
    let key: Buffer;
    try {
      key = await ensurePlatformKey(path);
    } finally {
      process.umask(old);
    }
    assert.equal(key.length, 32);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.deepEqual(await ensurePlatformKey(path), key);
    assert.deepEqual(await readPlatformKey(path), key);
    assert.deepEqual(readdirSync(sub), ['secrets.key'], 'no temporary file is left behind');
  });

  test('two starts at once agree on one key', async () => {
    const sub = fresh();
    mkdirSync(sub);
    const path = platformKeyPath(sub);
    const keys = await Promise.all([ensurePlatformKey(path), ensurePlatformKey(path), ensurePlatformKey(path)]);
    assert.deepEqual(keys[1], keys[0]);
    assert.deepEqual(keys[2], keys[0]);
  });

  test('an existing file of the wrong size is refused, never replaced', async () => {
    const path = join(dir, 'short.key');
    writeFileSync(path, Buffer.alloc(31), { mode: 0o600 });
    await refused(ensurePlatformKey(path), /must be exactly 32 bytes: got 31 bytes/);
    assert.equal(statSync(path).size, 31);
    writeFileSync(path, 'a'.repeat(64) + '\n', { mode: 0o600 });
    await refused(ensurePlatformKey(path), /got 65 bytes/);
  });

  test('a key readable or writable by group or others is refused, with the chmod that fixes it', async () => {
    const path = join(dir, 'open.key');
    writeFileSync(path, Buffer.alloc(32, 7));
    for (const mode of [0o640, 0o604, 0o620, 0o666]) {
      chmodSync(path, mode);
      await refused(ensurePlatformKey(path), new RegExp(`readable by its owner only \\(chmod 600 .*\\): got mode 0${mode.toString(8)}`));
    }
    chmodSync(path, 0o400);
    assert.deepEqual(await ensurePlatformKey(path), Buffer.alloc(32, 7));
  });

  test('a symbolic link or a directory is refused; a missing file is refused by readPlatformKey', async () => {
    const target = join(dir, 'target.key');
    writeFileSync(target, Buffer.alloc(32), { mode: 0o600 });
    const link = join(dir, 'link.key');
    symlinkSync(target, link);
    await refused(ensurePlatformKey(link), /must be a regular file: got a symbolic link/);
    await refused(ensurePlatformKey(dir), /must be a regular file: got something else/);
    await refused(readPlatformKey(join(dir, 'none.key')), /must be an existing file .*: got no such file/);
  });
});
