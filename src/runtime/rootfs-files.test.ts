import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, readFile, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { placeFiles, resolveInRoot } from './rootfs-files.ts';

describe('rootfs-files', () => {
  let dir: string;
  let root: string;
  let outside: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'aloft-rootfs-'));
    root = join(dir, 'root');
    outside = join(dir, 'outside');
    await mkdir(join(root, 'etc'), { recursive: true });
    await mkdir(outside);
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes files and creates parent directories', async () => {
    await placeFiles(root, [
      { path: '/etc/hosts', content: '127.0.0.1 localhost\n' },
      { path: '/run/aloft/env', content: 'A=1\n' },
    ]);
    assert.equal(await readFile(join(root, 'etc/hosts'), 'utf8'), '127.0.0.1 localhost\n');
    assert.equal(await readFile(join(root, 'run/aloft/env'), 'utf8'), 'A=1\n');
  });

  it('follows an absolute symlink within the root, not the host', async () => {
    await mkdir(join(root, 'run/systemd/resolve'), { recursive: true });
    await symlink('/run/systemd/resolve/stub-resolv.conf', join(root, 'etc/resolv.conf'));
    await placeFiles(root, [{ path: '/etc/resolv.conf', content: 'nameserver fdaa::3\n' }]);
    assert.equal(await readFile(join(root, 'run/systemd/resolve/stub-resolv.conf'), 'utf8'), 'nameserver fdaa::3\n');
  });

  it('keeps a symlinked directory pointing out of the root inside it', async () => {
    await symlink(outside, join(root, 'escape'));
    await symlink('../../../../..', join(root, 'up'));
    await placeFiles(root, [
      { path: '/escape/pwned', content: 'x' },
      { path: '/up/etc/pwned2', content: 'y' },
      { path: '/../../pwned3', content: 'z' },
    ]);
    assert.equal(await readFile(join(root, outside, 'pwned'), 'utf8'), 'x');
    assert.equal(await readFile(join(root, 'etc/pwned2'), 'utf8'), 'y');
    assert.equal(await readFile(join(root, 'pwned3'), 'utf8'), 'z');
    await assert.rejects(readFile(join(outside, 'pwned')), { code: 'ENOENT' });
  });

  it('gives up on symlink loops', async () => {
    await symlink('/loop', join(root, 'loop'));
    await assert.rejects(resolveInRoot(root, '/loop/x'), /more than 40 symlinks/);
  });

  it('refuses relative paths', async () => {
    await assert.rejects(placeFiles(root, [{ path: 'etc/x', content: '' }]), /'path' must be an absolute path/);
  });
});
