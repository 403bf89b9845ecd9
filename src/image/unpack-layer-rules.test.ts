import assert from 'node:assert/strict';
import { lstat, mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { isAloftError } from '../lib/errors.ts';
import { TAR_END, tarEntry, type TarEntry } from './testing/tar-writer.ts';
import { unpackLayer } from './unpack-layer.ts';

// The layer rules umoci follows that aloft matches (umoci-equality.test.ts checks whole
// trees against umoci itself, where it is installed; these run everywhere).

const LAYER = `sha256:${'12'.repeat(32)}`;
let base: string;
let n = 0;
before(async () => {
  base = await mkdtemp(join(tmpdir(), 'aloft-rules-'));
});
after(() => rm(base, { recursive: true, force: true }));

async function freshRoot(): Promise<string> {
  const root = join(base, `root-${n++}`);
  await mkdir(root);
  return root;
}

async function apply(root: string, entries: TarEntry[]): Promise<void> {
  await unpackLayer(root, Readable.from([Buffer.concat([...entries.flatMap(tarEntry), TAR_END])]), { digest: LAYER });
}

const file = (name: string, mtime = 50, body = 'x'): TarEntry => ({ name, type: 'file', mode: 0o644, mtime, body: Buffer.from(body) });
const dir = (name: string, mtime: number): TarEntry => ({ name, type: 'directory', mode: 0o755, mtime });
const whiteout = (name: string): TarEntry => ({ name, type: 'file', mode: 0o644, mtime: 1 });
const mtimeOf = async (path: string): Promise<number> => (await lstat(path)).mtimeMs / 1000;

describe('unpackLayer follows umoci', () => {
  test("a first layer's root starts at the epoch; a './' entry sets it", async () => {
    const root = await freshRoot();
    await apply(root, [file('a')]);
    assert.equal(await mtimeOf(root), 0);
    const other = await freshRoot();
    await apply(other, [dir('./', 1234), file('a')]);
    assert.equal(await mtimeOf(other), 1234);
  });

  test('a directory keeps its mtime when a later layer adds, replaces or whites out its children', async () => {
    const root = await freshRoot();
    await apply(root, [dir('d/', 700), file('d/a'), file('d/b')]);
    await apply(root, [file('d/new'), file('d/a', 99), whiteout('d/.wh.b')]);
    assert.deepEqual((await readdir(join(root, 'd'))).sort(), ['a', 'new']);
    assert.equal(await mtimeOf(join(root, 'd')), 700);
    assert.equal(await mtimeOf(join(root, 'd/a')), 99);
  });

  test('a whiteout keeps what its own layer wrote, and removes only lower content below it', async () => {
    const root = await freshRoot();
    await apply(root, [file('f'), file('d/lower')]);
    await apply(root, [file('f', 60, 'upper'), whiteout('.wh.f'), file('d/upper'), whiteout('.wh.d')]);
    assert.equal(await readFile(join(root, 'f'), 'utf8'), 'upper');
    assert.deepEqual(await readdir(join(root, 'd')), ['upper']);
  });

  test('an opaque marker in a directory that does not exist does nothing', async () => {
    const root = await freshRoot();
    await apply(root, [file('keep'), whiteout('missing/.wh..wh..opq')]);
    assert.deepEqual(await readdir(root), ['keep']);
  });

  test('a PAX mtime keeps its fraction; fifos and symlinks get their mtimes', async () => {
    const root = await freshRoot();
    await apply(root, [
      file('f', 1000.25),
      { name: 'p', type: 'fifo', mode: 0o600, mtime: 2000 },
      { name: 'l', type: 'symlink', mode: 0o777, mtime: 3000, linkname: 'f' },
    ]);
    assert.equal(await mtimeOf(join(root, 'f')), 1000.25);
    assert.equal(await mtimeOf(join(root, 'p')), 2000);
    assert.equal(await mtimeOf(join(root, 'l')), 3000);
  });

  test('a hard link to itself is IMAGE_INVALID', async () => {
    await assert.rejects(apply(await freshRoot(), [file('a'), { name: 'a', type: 'link', mode: 0o644, mtime: 1, linkname: 'a' }]), (err) => {
      assert.ok(isAloftError(err, 'IMAGE_INVALID'));
      assert.equal(err.message, `Cannot unpack layer ${LAYER} as hard link 'a' must point to another entry: got itself`);
      return true;
    });
  });

  test('an entry over a lower one of another type replaces it; a dir over a dir stays', async () => {
    const root = await freshRoot();
    await apply(root, [file('x'), dir('y/', 10), file('y/child'), { name: 's', type: 'symlink', mode: 0o777, mtime: 1, linkname: '/etc' }]);
    await apply(root, [dir('x/', 20), file('y', 30), file('s', 40), dir('y2/', 50)]);
    assert.ok((await lstat(join(root, 'x'))).isDirectory());
    assert.ok((await lstat(join(root, 'y'))).isFile());
    assert.ok((await lstat(join(root, 's'))).isFile());
  });
});
