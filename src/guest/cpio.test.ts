import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, readlink, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { writeCpio } from './cpio.ts';

test('busybox cpio extracts what writeCpio wrote: dirs, files with modes, symlinks', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'aloft-cpio-'));
  try {
    const archive = writeCpio([
      { type: 'dir', path: 'bin' },
      { type: 'file', path: 'bin/tool', data: Buffer.from('#!/bin/sh\necho odd-length\n'), mode: 0o755 },
      { type: 'symlink', path: 'bin/alias', target: 'tool' },
      { type: 'file', path: 'empty', data: Buffer.alloc(0), mode: 0o600 },
    ]);
    assert.equal(archive.length % 4, 0);
    execFileSync('busybox', ['cpio', '-i', '-d'], { cwd: dir, input: archive, stdio: ['pipe', 'pipe', 'pipe'] });
    assert.equal(await readFile(join(dir, 'bin/tool'), 'utf8'), '#!/bin/sh\necho odd-length\n');
    assert.equal((await stat(join(dir, 'bin/tool'))).mode & 0o777, 0o755);
    assert.equal(await readlink(join(dir, 'bin/alias')), 'tool');
    assert.equal((await stat(join(dir, 'empty'))).mode & 0o777, 0o600);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a path that climbs out is refused', () => {
  assert.throws(() => writeCpio([{ type: 'file', path: '../etc/passwd', data: Buffer.alloc(0) }]), /bad cpio path/);
});
