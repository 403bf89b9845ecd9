import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { AloftError } from '../lib/errors.ts';
import { writeFilesIntoExt4 } from './ext4-files.ts';

const debugfs = (disk: string, request: string): string => execFileSync('debugfs', ['-R', request, disk], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });

describe('writeFilesIntoExt4', () => {
  let dir: string;
  let disk: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'aloft-ext4-files-test-'));
    await mkdir(join(dir, 'root', 'etc'), { recursive: true });
    await writeFile(join(dir, 'root', 'etc', 'hosts'), 'old hosts from the image\n');
    disk = join(dir, 'disk.ext4');
    execFileSync('mkfs.ext4', ['-q', '-F', '-d', join(dir, 'root'), disk, '8M']);
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('replaces a file and adds a new one, root-owned with the mode asked, without mounting', async () => {
    await writeFilesIntoExt4(disk, [
      { path: '/etc/hosts', content: '127.0.0.1\tlocalhost\nfdaa::2\tfly-local-6pn\n' },
      { path: '/etc/aloft-note', content: 'new\n', mode: 0o600 },
    ]);
    assert.equal(debugfs(disk, 'cat /etc/hosts'), '127.0.0.1\tlocalhost\nfdaa::2\tfly-local-6pn\n');
    assert.equal(debugfs(disk, 'cat /etc/aloft-note'), 'new\n');
    const stat = debugfs(disk, 'stat /etc/aloft-note');
    assert.match(stat, /Mode:\s+0600/);
    assert.match(stat, /User:\s+0\s+Group:\s+0/);
    // The image is still a clean file system.
    execFileSync('e2fsck', ['-fn', disk], { stdio: 'ignore' });
  });

  it('fails with ROOTFS_FAILED naming the path when its directory is not in the image', async () => {
    await assert.rejects(writeFilesIntoExt4(disk, [{ path: '/no/such/dir/file', content: 'x' }]), (err: AloftError) => {
      assert.equal(err.code, 'ROOTFS_FAILED');
      assert.match(err.message, /\/no\/such\/dir\/file/);
      return true;
    });
  });

  it('refuses a relative path or one with spaces before touching the image', async () => {
    await assert.rejects(writeFilesIntoExt4(disk, [{ path: 'etc/hosts', content: 'x' }]), /'path' must be an absolute file path/);
    await assert.rejects(writeFilesIntoExt4(disk, [{ path: '/etc/a b', content: 'x' }]), /without spaces or quotes: got "\/etc\/a b"/);
  });
});
