import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { lstat, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { TAR_END, tarEntry, type TarEntry } from './testing/tar-writer.ts';
import { unpackLayer } from './unpack-layer.ts';
import { isAppliedXattr, SETFATTR } from './xattrs.ts';

const run = promisify(execFile);
const LAYER = `sha256:${'ef'.repeat(32)}`;
const SKIP = SETFATTR === undefined ? 'setfattr is not installed (apt-get install attr)' : process.getuid?.() !== 0 ? 'needs root (trusted.* xattrs)' : false;

let base: string;
let n = 0;
before(async () => {
  base = await mkdtemp(join(tmpdir(), 'aloft-xattrs-'));
});
after(() => rm(base, { recursive: true, force: true }));

async function unpack(root: string, entries: TarEntry[]): Promise<void> {
  const tar = Buffer.concat([...entries.flatMap(tarEntry), TAR_END]);
  await unpackLayer(root, Readable.from([tar]), { digest: LAYER });
}

/** getfattr's dump of one path, not following a symlink: name → hex value. */
async function xattrs(path: string): Promise<Record<string, string>> {
  const { stdout } = await run('getfattr', ['-h', '-d', '-m', '-', '-e', 'hex', '--absolute-names', path]);
  return Object.fromEntries(
    stdout
      .split('\n')
      .filter((l) => l.includes('='))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
}

test('isAppliedXattr leaves out what umoci leaves out, and overlayfs names', () => {
  assert.equal(isAppliedXattr('user.a'), true);
  assert.equal(isAppliedXattr('security.capability'), true);
  assert.equal(isAppliedXattr('trusted.x'), true);
  assert.equal(isAppliedXattr('security.selinux'), false);
  assert.equal(isAppliedXattr('system.nfs4_acl'), false);
  assert.equal(isAppliedXattr('trusted.overlay.opaque'), false);
});

describe('PAX xattrs are applied', { skip: SKIP }, () => {
  test('binary values byte for byte, on files, dirs and symlinks (not their targets)', async () => {
    const root = join(base, `root-${n++}`);
    await mkdir(root);
    const bin = Buffer.from([0, 1, 0x7f, 0x80, 0xc3, 0x28, 0xff, 0x0a, 0x3d]);
    const cap = Buffer.from('0100000200200000000000000000000000000000', 'hex');
    await unpack(root, [
      { name: 'd/', type: 'directory', mode: 0o755, mtime: 1, xattrs: { 'trusted.dir': Buffer.from('yes') } },
      { name: 'd/f', type: 'file', mode: 0o755, mtime: 1, body: Buffer.from('x'), xattrs: { 'user.bin': bin, 'security.capability': cap, 'security.selinux': Buffer.from('label'), 'trusted.overlay.redirect': Buffer.from('/etc') } },
      { name: 'd/l', type: 'symlink', mode: 0o777, mtime: 1, linkname: 'f', xattrs: { 'trusted.on-link': Buffer.from('l') } },
      { name: 'd/h', type: 'link', mode: 0o644, mtime: 1, linkname: 'd/f' },
    ]);
    assert.deepEqual(await xattrs(join(root, 'd/f')), { 'security.capability': `0x${cap.toString('hex')}`, 'user.bin': `0x${bin.toString('hex')}` });
    assert.deepEqual(await xattrs(join(root, 'd/l')), { 'trusted.on-link': '0x6c' });
    assert.deepEqual(await xattrs(join(root, 'd')), { 'trusted.dir': '0x796573' });
  });

  test('queued xattrs never reach outside the root when a later entry turns a parent into a symlink', async () => {
    const root = join(base, `root-${n++}`);
    const outside = join(base, `outside-${n++}`);
    await mkdir(root);
    await mkdir(outside);
    await writeFile(join(outside, 'f'), 'host file');
    await unpack(root, [
      { name: 'd/', type: 'directory', mode: 0o755, mtime: 1 },
      { name: 'd/f', type: 'file', mode: 0o644, mtime: 1, body: Buffer.from('x'), xattrs: { 'user.pwned': Buffer.from('1') } },
      { name: 'd', type: 'symlink', mode: 0o777, mtime: 1, linkname: outside },
    ]);
    assert.ok((await lstat(join(root, 'd'))).isSymbolicLink());
    assert.deepEqual(await xattrs(join(outside, 'f')), {});
  });

  test('a hard link replacing a file does not inherit the xattrs queued for that file', async () => {
    const root = join(base, `root-${n++}`);
    await mkdir(root);
    await unpack(root, [
      { name: 't', type: 'file', mode: 0o644, mtime: 1, body: Buffer.from('t') },
      { name: 'f', type: 'file', mode: 0o644, mtime: 1, body: Buffer.from('x'), xattrs: { 'user.old': Buffer.from('1') } },
      { name: 'f', type: 'link', mode: 0o644, mtime: 1, linkname: 't' },
    ]);
    assert.deepEqual(await xattrs(join(root, 't')), {});
  });

  test('a directory re-declared by a later layer loses the xattrs its new entry lacks', async () => {
    const root = join(base, `root-${n++}`);
    await mkdir(root);
    await unpack(root, [{ name: 'd/', type: 'directory', mode: 0o755, mtime: 1, xattrs: { 'user.old': Buffer.from('1'), 'user.both': Buffer.from('1') } }]);
    await unpack(root, [{ name: 'd/', type: 'directory', mode: 0o755, mtime: 2, xattrs: { 'user.both': Buffer.from('2') } }]);
    assert.deepEqual(await xattrs(join(root, 'd')), { 'user.both': '0x32' });
  });
});
