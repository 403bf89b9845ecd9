import assert from 'node:assert/strict';
import { lstat, mkdir, mkdtemp, readFile, readdir, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { isAloftError } from '../lib/errors.ts';
import { makeTar, type FixtureEntry } from './tar-fixture.ts';
import { unpackLayer } from './unpack-layer.ts';

const LAYER = `sha256:${'ab'.repeat(32)}`;
const asRoot = process.getuid?.() === 0;

let base: string;
let outside: string;
let n = 0;

before(async () => {
  base = await mkdtemp(join(tmpdir(), 'aloft-unpack-'));
  // A sentinel next to every root: hostile layers aim at it; it must never change.
  outside = join(base, 'outside');
  await mkdir(outside);
  await writeFile(join(outside, 'secret'), 'keep me');
});
after(() => rm(base, { recursive: true, force: true }));

async function freshRoot(): Promise<string> {
  const root = join(base, `root-${n++}`);
  await mkdir(root);
  return root;
}

async function apply(root: string, entries: FixtureEntry[], options: { gzip?: boolean; allowDevices?: boolean } = {}): Promise<void> {
  const tar = await makeTar(entries, options);
  await unpackLayer(root, Readable.from([tar]), { digest: LAYER, ...(options.allowDevices ? { allowDevices: true } : {}) });
}

async function assertOutsideUntouched(): Promise<void> {
  assert.deepEqual((await readdir(outside)).sort(), ['secret']);
  assert.equal(await readFile(join(outside, 'secret'), 'utf8'), 'keep me');
}

function unsafe(pattern: RegExp) {
  return (err: unknown) => isAloftError(err, 'IMAGE_UNSAFE') && pattern.test(err.message) && err.message.includes(LAYER);
}

describe('unpackLayer applies entries', () => {
  test('files, dirs, symlinks and hard links keep their modes, owners and mtimes', async () => {
    const root = await freshRoot();
    const mtime = new Date('2024-01-02T03:04:05Z');
    await apply(root, [
      { name: './', type: 'directory', mode: 0o755 },
      { name: 'etc/', type: 'directory', mode: 0o750, uid: 1000, gid: 1001, mtime },
      { name: 'etc/app.conf', content: 'x=1\n', mode: 0o640, uid: 1000, gid: 1001, mtime },
      { name: 'bin/tool', content: '#!/bin/sh\n', mode: 0o4755, mtime },
      { name: 'bin/alias', type: 'symlink', linkname: 'tool' },
      { name: 'bin/hard', type: 'link', linkname: 'bin/tool' },
    ]);
    const conf = await stat(join(root, 'etc/app.conf'));
    assert.equal(await readFile(join(root, 'etc/app.conf'), 'utf8'), 'x=1\n');
    assert.equal(conf.mode & 0o7777, 0o640);
    assert.equal(conf.mtime.getTime(), mtime.getTime());
    if (asRoot) assert.deepEqual([conf.uid, conf.gid], [1000, 1001]);
    const etc = await stat(join(root, 'etc'));
    assert.equal(etc.mode & 0o7777, 0o750);
    assert.equal(etc.mtime.getTime(), mtime.getTime(), 'dir mtime set after its children were written');
    assert.equal((await stat(join(root, 'bin/tool'))).mode & 0o7777, 0o4755, 'setuid survives chown');
    assert.equal(await readlink(join(root, 'bin/alias')), 'tool');
    assert.equal((await stat(join(root, 'bin/hard'))).ino, (await stat(join(root, 'bin/tool'))).ino);
    assert.equal((await stat(join(root, 'bin'))).mode & 0o777, 0o755, 'implicit parents are 0755');
  });

  test('a gzip layer is detected by its magic bytes', async () => {
    const root = await freshRoot();
    await apply(root, [{ name: 'a.txt', content: 'zipped' }], { gzip: true });
    assert.equal(await readFile(join(root, 'a.txt'), 'utf8'), 'zipped');
  });

  test('an entry replaces what is there, and a symlink in the way is replaced, not followed', async () => {
    const root = await freshRoot();
    await apply(root, [
      { name: 'x', content: 'file' },
      { name: 'evil', type: 'symlink', linkname: join(outside, 'secret') },
    ]);
    await apply(root, [
      { name: 'x/', type: 'directory' },
      { name: 'evil', content: 'replaced' },
    ]);
    assert.ok((await lstat(join(root, 'x'))).isDirectory());
    assert.ok((await lstat(join(root, 'evil'))).isFile());
    await assertOutsideUntouched();
  });

  test('whiteouts delete lower entries; an opaque dir keeps only this layer\'s entries', async () => {
    const root = await freshRoot();
    await apply(root, [
      { name: 'a/x', content: '1' },
      { name: 'a/y', content: '2' },
      { name: 'b/z', content: '3' },
      { name: 'd/old', content: '4' },
      { name: 'd/sub/old2', content: '5' },
      { name: 'd/keep/lower', content: '6' },
    ]);
    await apply(root, [
      { name: '.wh.b', content: '' },
      { name: 'a/.wh.x', content: '' },
      { name: 'd/', type: 'directory' },
      { name: 'd/keep/', type: 'directory' },
      { name: 'd/keep/new', content: 'kept' },
      { name: 'd/.wh..wh..opq', content: '' },
      { name: 'd/later', content: 'after the marker' },
    ]);
    assert.deepEqual((await readdir(root)).sort(), ['a', 'd']);
    assert.deepEqual(await readdir(join(root, 'a')), ['y']);
    assert.deepEqual((await readdir(join(root, 'd'))).sort(), ['keep', 'later']);
    assert.deepEqual(await readdir(join(root, 'd/keep')), ['new'], 'lower content under a re-declared dir goes too');
  });

  test('corrupt data is IMAGE_INVALID naming the layer', async () => {
    const root = await freshRoot();
    const garbage = Buffer.concat([Buffer.from([0x1f, 0x8b, 8, 0]), Buffer.alloc(100, 7)]);
    await assert.rejects(unpackLayer(root, Readable.from([garbage]), { digest: LAYER }), (err) => isAloftError(err, 'IMAGE_INVALID') && err.message.includes(LAYER));
  });
});

describe('unpackLayer refuses hostile layers and writes nothing outside the root', () => {
  test("a '..' component", async () => {
    const root = await freshRoot();
    await assert.rejects(apply(root, [{ name: '../outside/pwned', content: 'x' }]), (err) => {
      assert.ok(isAloftError(err, 'IMAGE_UNSAFE'));
      assert.equal(err.message, `Cannot unpack layer ${LAYER} as entry '../outside/pwned' must stay inside the root: got a path with '..'`);
      return true;
    });
    await assertOutsideUntouched();
  });

  test('an absolute path', async () => {
    const root = await freshRoot();
    await assert.rejects(apply(root, [{ name: `${outside}/pwned`, content: 'x' }]), unsafe(/must be a relative path/));
    await assertOutsideUntouched();
  });

  test('a write through an absolute symlink to a dir outside', async () => {
    const root = await freshRoot();
    await assert.rejects(
      apply(root, [
        { name: 'link', type: 'symlink', linkname: outside },
        { name: 'link/pwned', content: 'x' },
      ]),
      unsafe(/entry 'link\/pwned' must not be written through a symlink: got 'link' is a symlink/),
    );
    await assertOutsideUntouched();
  });

  test('a write through a relative symlink planted by a lower layer', async () => {
    const root = await freshRoot();
    await apply(root, [{ name: 'up', type: 'symlink', linkname: '../outside' }]);
    await assert.rejects(apply(root, [{ name: 'up/secret', content: 'overwritten' }]), unsafe(/through a symlink/));
    await assertOutsideUntouched();
  });

  test('a hard link to a file outside the root, directly or through a symlink', async () => {
    const root = await freshRoot();
    await assert.rejects(apply(root, [{ name: 'hl', type: 'link', linkname: '../outside/secret' }]), unsafe(/must link to a path inside the root/));
    await assert.rejects(
      apply(root, [
        { name: 's', type: 'symlink', linkname: outside },
        { name: 'hl2', type: 'link', linkname: 's/secret' },
      ]),
      unsafe(/entry 'hl2' must not be written through a symlink/),
    );
    await assertOutsideUntouched();
    assert.equal((await stat(join(outside, 'secret'))).nlink, 1, 'no new link to the outside file');
  });

  test('whiteouts and opaque markers through a symlink', async () => {
    const root = await freshRoot();
    await apply(root, [{ name: 's', type: 'symlink', linkname: outside }]);
    await assert.rejects(apply(root, [{ name: 's/.wh.secret', content: '' }]), unsafe(/through a symlink/));
    await assert.rejects(apply(root, [{ name: 's/.wh..wh..opq', content: '' }]), unsafe(/through a symlink/));
    await assertOutsideUntouched();
  });

  test('a device node, unless allowDevices', async () => {
    const root = await freshRoot();
    await assert.rejects(
      apply(root, [{ name: 'dev/mem', type: 'character-device', devmajor: 1, devminor: 1, mode: 0o666 }]),
      unsafe(/entry 'dev\/mem' must not be a device node: got a character-device 1:1/),
    );
    assert.equal(await lstat(join(root, 'dev/mem')).catch(() => undefined), undefined);
    if (asRoot) {
      const trusted = await freshRoot();
      await apply(trusted, [{ name: 'dev/null', type: 'character-device', devmajor: 1, devminor: 3, mode: 0o666 }], { allowDevices: true });
      assert.ok((await lstat(join(trusted, 'dev/null'))).isCharacterDevice());
    }
  });
});
