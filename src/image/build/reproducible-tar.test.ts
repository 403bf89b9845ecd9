import assert from 'node:assert/strict';
import { readdir, readFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { sha256Digest } from '../digest.ts';
import { blobPath, readLayer } from './layer-fixture.ts';
import { writeLayer, type LayerEntry } from './reproducible-tar.ts';

let base: string;
before(async () => {
  base = await mkdtemp(join(tmpdir(), 'aloft-repro-tar-'));
});
after(() => rm(base, { recursive: true, force: true }));

const file = (path: string, content: string, extra: Partial<LayerEntry> = {}): LayerEntry => ({ path, type: 'file', mode: 0o644, content: Buffer.from(content), ...extra });
const longName = `/app/${'d'.repeat(120)}/${'f'.repeat(120)}.js`;

test('entries come out sorted, parents first, with fixed times and owners', async () => {
  const layout = join(base, 'sorted');
  const layer = await writeLayer(layout, [file('/b/z.txt', 'z'), { path: '/a', type: 'symlink', mode: 0o777, linkTarget: 'b/z.txt' }, file('/b-c', 'x'), file('/b/a.txt', 'a', { mode: 0o755 })], new Date(1_000_000_000_000));
  const entries = await readLayer(layout, layer.digest);
  assert.deepEqual(entries.map((e) => [e.name, e.type]), [['a', 'symlink'], ['b/', 'directory'], ['b-c', 'file'], ['b/a.txt', 'file'], ['b/z.txt', 'file']]);
  assert.ok(entries.every((e) => e.mtime === 1_000_000_000_000 && e.uid === 0 && e.gid === 0 && e.uname === '' && e.gname === ''));
  assert.equal(entries[0]?.linkname, 'b/z.txt');
  assert.equal(entries[3]?.mode, 0o755);
  assert.equal(layer.entries, 5);
});

test('the same entries give the same bytes; digests are of the blob and of the tar', async () => {
  const entries = [file('/x', 'same'), file(longName, 'long')];
  const one = await writeLayer(join(base, 'one'), entries, new Date(0));
  const two = await writeLayer(join(base, 'two'), [...entries].reverse(), new Date(0));
  assert.deepEqual(one, two);
  const blob = await readFile(blobPath(join(base, 'one'), one.digest));
  assert.equal(sha256Digest(blob), one.digest);
  assert.equal(sha256Digest(gunzipSync(blob)), one.diffId);
  assert.equal(blob.length, one.size);
  // gzip header: magic, deflate, no flags, mtime 0, then the OS byte from zlib's build.
  assert.deepEqual([...blob.subarray(0, 8)], [0x1f, 0x8b, 8, 0, 0, 0, 0, 0]);
  // A path over ustar's 100+155 bytes gets a pax header with the path only: no times.
  const read = await readLayer(join(base, 'one'), one.digest);
  assert.deepEqual(read.find((e) => e.name === longName.slice(1))?.pax, ['path']);
  assert.deepEqual(await readdir(join(base, 'one', 'blobs', 'sha256')), [one.digest.slice(7)], 'no temp files left');
});

test('files sharing an inode: the first in order is stored, the rest are hard links to it', async () => {
  const layout = join(base, 'links');
  const layer = await writeLayer(layout, [file('/z', 'same', { inode: '1:2' }), file('/a', 'same', { inode: '1:2' }), file('/m', 'other', { inode: '1:3' })], new Date(0));
  const entries = await readLayer(layout, layer.digest);
  assert.deepEqual(entries.map((e) => [e.name, e.type, e.linkname, e.content.toString()]), [
    ['a', 'file', null, 'same'],
    ['m', 'file', null, 'other'],
    ['z', 'link', 'a', ''],
  ]);
});

test('a file that changed size since it was listed fails, and no blob or temp file is left', async () => {
  const layout = join(base, 'changed');
  const source = join(base, 'grew.txt');
  await writeFile(source, 'twelve bytes');
  await assert.rejects(writeLayer(layout, [{ path: '/grew.txt', type: 'file', mode: 0o644, sourcePath: source, size: 5 }], new Date(0)), /must not change during the build: got more bytes than its 5/);
  await assert.rejects(writeLayer(layout, [{ path: '/grew.txt', type: 'file', mode: 0o644, sourcePath: source, size: 50 }], new Date(0)), /got fewer bytes than its 50/);
  assert.deepEqual(await readdir(join(layout, 'blobs', 'sha256')), []);
});

test('a path that climbs out or names the root is refused', async () => {
  await assert.rejects(writeLayer(join(base, 'bad'), [file('/a/../../etc', 'x')], new Date(0)), /without '\.\.'/);
  await assert.rejects(writeLayer(join(base, 'bad'), [file('/', 'x')], new Date(0)), /without '\.\.'/);
});
