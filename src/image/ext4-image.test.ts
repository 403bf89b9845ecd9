import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, chown, link, mkdir, mkdtemp, readdir, readFile, readlink, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { execCommand, type CommandRunner } from '../lib/command.ts';
import { isAloftError } from '../lib/errors.ts';
import { writeOciLayout } from './build-image.ts';
import { prepareExt4Disk } from './ext4-disk.ts';
import { buildExt4Image, measureTree } from './ext4-image.ts';
import { ImageStore } from './image-store.ts';

const exec = promisify(execFile);
const MIB = 1 << 20;

let base: string;
let root: string;

/** What debugfs says about one path in the image (never mounted). */
async function debugfs(image: string, request: string): Promise<string> {
  return (await exec('debugfs', ['-R', request, image])).stdout;
}

/** Fields of `dumpe2fs -h`. */
async function superblock(image: string): Promise<Map<string, string>> {
  const out = (await exec('dumpe2fs', ['-h', image])).stdout;
  return new Map(out.split('\n').flatMap((line) => {
    const m = /^([^:]+):\s+(.*)$/.exec(line);
    return m?.[1] === undefined || m[2] === undefined ? [] : [[m[1], m[2]] as [string, string]];
  }));
}

function field(sb: Map<string, string>, name: string): number {
  return Number(sb.get(name));
}

before(async () => {
  base = await mkdtemp(join(tmpdir(), 'aloft-ext4-'));
  root = join(base, 'root');
  await mkdir(join(root, 'bin'), { recursive: true });
  await mkdir(join(root, 'home', 'app'), { recursive: true });
  await writeFile(join(root, 'bin', 'su'), '#!/bin/sh\nid\n');
  await chmod(join(root, 'bin', 'su'), 0o4755);
  await writeFile(join(root, 'home', 'app', 'data.txt'), 'owned by app');
  await chown(join(root, 'home', 'app', 'data.txt'), 1000, 1001);
  await chown(join(root, 'home', 'app'), 1000, 1001);
  await chmod(join(root, 'home', 'app'), 0o750);
  await link(join(root, 'bin', 'su'), join(root, 'bin', 'su-hardlink'));
  await symlink('/bin/su', join(root, 'bin', 'su-link'));
  await symlink(`/${'long/'.repeat(20)}target`, join(root, 'long-link'));
  await writeFile(join(root, 'big'), Buffer.alloc(3 * MIB + 5, 7));
  await utimes(join(root, 'big'), new Date('2001-02-03T04:05:06Z'), new Date('2001-02-03T04:05:06Z'));
  await exec('setfattr', ['-n', 'user.note', '-v', 'kept', join(root, 'home', 'app', 'data.txt')]);
  await exec('setfattr', ['-n', 'security.capability', '-v', '0x0100000200200000000000000000000000000000', join(root, 'bin', 'su')]);
  await chmod(root, 0o711);
});
after(() => rm(base, { recursive: true, force: true }));

describe('buildExt4Image', () => {
  let image: string;
  before(async () => {
    image = join(base, 'out', 'root.ext4');
    await buildExt4Image(root, image, { headroomBytes: 8 * MIB, mode: 0o440 });
  });

  test('the image is clean ext4 and rdump gives back the same files', async () => {
    await exec('e2fsck', ['-f', '-n', image]);
    assert.equal((await stat(image)).mode & 0o777, 0o440);
    const out = join(base, 'rdump');
    await mkdir(out);
    await debugfs(image, `rdump / ${out}`);
    assert.deepEqual((await readdir(out, { recursive: true })).sort().filter((p) => p !== 'lost+found'), (await readdir(root, { recursive: true })).sort());
    assert.deepEqual(await readFile(join(out, 'big')), await readFile(join(root, 'big')));
    assert.equal(await readFile(join(out, 'home/app/data.txt'), 'utf8'), 'owned by app');
    assert.equal(await readlink(join(out, 'long-link')), `/${'long/'.repeat(20)}target`);
  });

  test('owners, modes, setuid, times, the root mode and xattrs survive', async () => {
    const data = await debugfs(image, 'stat /home/app/data.txt');
    assert.match(data, /User:\s+1000\s+Group:\s+1001/);
    assert.match(data, /user\.note \(4\) = "kept"/);
    const su = await debugfs(image, 'stat /bin/su');
    assert.match(su, /Mode:\s+04755/);
    assert.match(su, /security\.capability \(20\)/);
    assert.match(await debugfs(image, 'stat /home/app'), /Mode:\s+0750[\s\S]*User:\s+1000\s+Group:\s+1001/);
    assert.match(await debugfs(image, 'stat /big'), /mtime: 0x3a7b8372/);
    assert.match(await debugfs(image, 'stat /'), /Type: directory\s+Mode:\s+0711/);
  });

  test('hard links share one inode; symlinks keep their targets', async () => {
    const listing = await debugfs(image, 'ls -l /bin');
    const inode = (name: string) => new RegExp(`^\\s*(\\d+)\\s+.*\\s${name}$`, 'm').exec(listing)?.[1];
    assert.ok(inode('su') !== undefined);
    assert.equal(inode('su'), inode('su-hardlink'));
    assert.match(await debugfs(image, 'stat /bin/su'), /Links: 2/);
    assert.match(await debugfs(image, 'stat /bin/su-link'), /Fast link dest: "\/bin\/su"/);
  });

  test('the headroom is free space and free inodes', async () => {
    const sb = await superblock(image);
    assert.equal(field(sb, 'Block size'), 4096);
    assert.ok(field(sb, 'Free blocks') * 4096 >= 8 * MIB, `free blocks ${sb.get('Free blocks')}`);
    assert.ok(field(sb, 'Free inodes') >= (8 * MIB) / 8192, `free inodes ${sb.get('Free inodes')}`);
    const measured = await measureTree(root);
    assert.ok(measured.bytes >= 3 * MIB + 4096, `measured ${measured.bytes}`);
    assert.equal(measured.inodes, 9, 'hard links counted once');
  });

  test('with no headroom option, at least 64 MiB stay free', async () => {
    const out = join(base, 'default.ext4');
    const built = await buildExt4Image(root, out);
    assert.ok(field(await superblock(out), 'Free blocks') * 4096 >= 64 * MIB);
    assert.equal(built.bytes, (await stat(out)).size);
  });

  test('a failed mkfs leaves no file, half-built or final', async () => {
    const dir = join(base, 'failing');
    // The real mkfs runs and writes its output, then the run is reported as failed.
    const failing: CommandRunner = async (file, args, options) => {
      const result = await execCommand(file, args, options);
      return file === 'mkfs.ext4' ? { ...result, code: 1, stderr: 'injected failure' } : result;
    };
    await assert.rejects(buildExt4Image(root, join(dir, 'x.ext4'), { run: failing }), (err) => isAloftError(err, 'ROOTFS_FAILED') && /injected failure/.test(err.message));
    assert.deepEqual(await readdir(dir), []);
  });

  test('bad arguments are INVALID_ARGUMENT naming the field', async () => {
    await assert.rejects(buildExt4Image('relative', join(base, 'y.ext4')), (err) => isAloftError(err, 'INVALID_ARGUMENT') && /'rootDir' must be an absolute path/.test(err.message));
    await assert.rejects(buildExt4Image(join(base, 'missing'), join(base, 'y.ext4')), (err) => isAloftError(err, 'INVALID_ARGUMENT') && /'rootDir' must be an existing directory/.test(err.message));
    await assert.rejects(buildExt4Image(root, join(base, 'y.ext4'), { headroomBytes: -1 }), (err) => isAloftError(err, 'INVALID_ARGUMENT') && /'headroomBytes'/.test(err.message));
  });
});

describe('prepareExt4Disk', () => {
  let image: string;
  before(async () => {
    image = join(base, 'disk-base.ext4');
    await buildExt4Image(root, image, { headroomBytes: 4 * MIB, mode: 0o444 });
  });

  test('copies the base image, grown to sizeMb, and keeps an existing disk', async () => {
    const machine = join(base, 'machine-1');
    const disk = await prepareExt4Disk(image, machine, { sizeMb: 96 });
    assert.equal((await stat(disk)).size, 96 * MIB);
    assert.equal((await stat(disk)).mode & 0o777, 0o600);
    // Sparse: the free space of the grown disk takes no blocks on the host.
    assert.ok((await stat(disk)).blocks * 512 < 48 * MIB, `allocated ${(await stat(disk)).blocks * 512}`);
    const sb = await superblock(disk);
    assert.equal(field(sb, 'Block count') * 4096, 96 * MIB);
    await exec('e2fsck', ['-f', '-n', disk]);
    assert.match(await debugfs(disk, 'stat /bin/su'), /Mode:\s+04755/);
    assert.equal((await stat(image)).size < 96 * MIB, true, 'the base is untouched');
    // The Machine wrote to its disk; preparing again must keep it.
    await exec('debugfs', ['-w', '-R', `write ${join(root, 'bin', 'su')} /written`, disk]);
    const again = await prepareExt4Disk(image, machine, { sizeMb: 128 });
    assert.equal(again, disk);
    assert.match(await debugfs(disk, 'ls /'), /written/);
    assert.equal(field(await superblock(disk), 'Block count') * 4096, 128 * MIB);
    assert.deepEqual((await readdir(machine)).sort(), ['rootfs.ext4']);
  });

  test('a size below the base image is INVALID_ARGUMENT', async () => {
    await assert.rejects(prepareExt4Disk(image, join(base, 'machine-2'), { sizeMb: 1 }), (err) => isAloftError(err, 'INVALID_ARGUMENT') && /'sizeMb' must be at least/.test(err.message));
    assert.deepEqual(await readdir(join(base, 'machine-2')), []);
  });
});

describe('ImageStore.ext4Image', () => {
  let digest: string;
  let layout: string;
  before(async () => {
    layout = join(base, 'layout');
    digest = (
      await writeOciLayout(layout, {
        files: [
          { path: '/app/run.sh', content: '#!/bin/sh\necho hi\n', mode: 0o755 },
          { path: '/app/owned', content: 'x', uid: 1000, gid: 1000 },
        ],
        config: { entrypoint: ['/app/run.sh'] },
      })
    ).digest;
  });

  /** A runner that counts mkfs runs and fails them while `fail` is set. */
  function countingRunner(): { run: CommandRunner; mkfs: number; fail: boolean } {
    const state: { run: CommandRunner; mkfs: number; fail: boolean } = {
      mkfs: 0,
      fail: false,
      run: (async (file, args, options) => {
        if (file === 'mkfs.ext4') state.mkfs++;
        const result = await execCommand(file, args, options);
        return file === 'mkfs.ext4' && state.fail ? { ...result, code: 1, stderr: 'injected failure' } : result;
      }),
    };
    return state;
  }

  test('builds once per digest: concurrent callers share it, later ones reuse the file', async () => {
    const runner = countingRunner();
    const images = new ImageStore(join(base, 'store-1'), { ext4: { headroomBytes: 4 * MIB, run: runner.run } });
    await images.resolve(layout);
    const paths = await Promise.all([images.ext4Image(digest), images.ext4Image(digest), images.ext4Image(digest)]);
    assert.equal(new Set(paths).size, 1);
    assert.equal(runner.mkfs, 1);
    const first = await stat(paths[0] ?? '');
    assert.equal(first.mode & 0o777, 0o444);
    assert.match(await debugfs(paths[0] ?? '', 'stat /app/owned'), /User:\s+1000\s+Group:\s+1000/);
    const again = await images.ext4Image(digest);
    const second = await stat(again);
    assert.deepEqual([second.ino, second.mtimeMs], [first.ino, first.mtimeMs]);
    // A new store on the same dir (an agent restart) finds it too.
    const restarted = new ImageStore(images.dir, { ext4: { run: runner.run } });
    assert.equal(await restarted.ext4Image(digest), again);
    assert.equal(runner.mkfs, 1);
  });

  test('a failed build leaves nothing, and the next call builds', async () => {
    const runner = countingRunner();
    runner.fail = true;
    const images = new ImageStore(join(base, 'store-2'), { ext4: { headroomBytes: 4 * MIB, run: runner.run } });
    await images.resolve(layout);
    await assert.rejects(images.ext4Image(digest), (err) => isAloftError(err, 'ROOTFS_FAILED'));
    assert.deepEqual(await readdir(join(images.dir, 'ext4')), []);
    runner.fail = false;
    const path = await images.ext4Image(digest);
    assert.deepEqual(await readdir(join(images.dir, 'ext4')), [path.split('/').pop()]);
    assert.equal(runner.mkfs, 2);
  });
});
