import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { buildCpio } from './newc-cpio.ts';

const busybox = spawnSync('busybox', ['cpio', '--help']).status !== 127 ? 'busybox' : null;

test('busybox cpio unpacks what we write, modes and contents intact', { skip: busybox === null ? 'busybox is not installed' : false }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'aloft-cpio-'));
  try {
    const archive = buildCpio([
      { type: 'dir', name: 'bin' },
      { type: 'file', name: 'bin/hello', data: Buffer.from('#!/bin/sh\necho hi\n'), mode: 0o755 },
      { type: 'file', name: '/odd', data: Buffer.from('x') },
    ]);
    assert.equal(archive.length % 4, 0);
    await writeFile(join(dir, 'a.cpio'), archive);
    const out = spawnSync('sh', ['-c', 'cd "$1" && mkdir x && cd x && busybox cpio -i < ../a.cpio', 'sh', dir], { encoding: 'utf8' });
    assert.equal(out.status, 0, out.stderr);
    assert.equal(await readFile(join(dir, 'x/bin/hello'), 'utf8'), '#!/bin/sh\necho hi\n');
    assert.equal((await stat(join(dir, 'x/bin/hello'))).mode & 0o777, 0o755);
    assert.equal(await readFile(join(dir, 'x/odd'), 'utf8'), 'x');
    const listing = spawnSync('sh', ['-c', 'busybox cpio -t < "$1"', 'sh', join(dir, 'a.cpio')], { encoding: 'utf8' });
    assert.deepEqual(listing.stdout.trim().split('\n'), ['bin', 'bin/hello', 'odd']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
