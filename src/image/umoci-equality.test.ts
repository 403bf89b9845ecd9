import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { buildHelloImage } from '../../examples/hello/build.ts';
import { ImageStore } from './image-store.ts';
import { writeSyntheticImage, type SyntheticImageOptions } from './testing/synthetic-image.ts';
import { snapshotTree } from './testing/tree-snapshot.ts';

// aloft's unpack must build the same tree as `umoci unpack` (the OCI reference tool) for
// every path: type, mode, owner, size, content, symlink target, mtime, xattrs and hard
// link groups. Two deliberate differences are kept out of these images: device nodes
// (aloft refuses them unless allowDevices; umoci creates them) and trusted.overlay.*
// xattrs (aloft drops them; umoci applies them, or escapes them in its overlayfs mode).

const run = promisify(execFile);
const UMOCI = ['/usr/bin/umoci', '/usr/local/bin/umoci'].find((p) => existsSync(p));
const SKIP = UMOCI === undefined ? 'umoci is not installed (apt-get install umoci)' : process.getuid?.() !== 0 ? 'needs root (owners, trusted.* xattrs)' : false;
const HAVE_ZSTD = existsSync('/usr/bin/zstd');

let work: string;
let n = 0;
/** When the tests began, in whole seconds: an mtime at or after it is umoci's "now". */
const started = Math.floor(Date.now() / 1000);

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'aloft-umoci-eq-'));
});
after(() => rm(work, { recursive: true, force: true }));

/** Unpacks `layout:tag` with aloft (ImageStore) and umoci from `umociLayout`; returns both trees. */
async function unpackBoth(layout: string, tag: string, umociLayout = layout): Promise<{ aloft: Map<string, string>; umoci: Map<string, string> }> {
  const id = n++;
  const store = new ImageStore(join(work, `store-${id}`));
  const image = await store.resolve(`${layout}:${tag}`);
  const root = await store.unpack(image.digest);
  const bundle = join(work, `bundle-${id}`);
  await run(UMOCI ?? 'umoci', ['unpack', '--image', `${umociLayout}:${tag}`, bundle], { maxBuffer: 64 << 20 });
  return { aloft: await snapshotTree(root), umoci: await snapshotTree(join(bundle, 'rootfs')) };
}

/**
 * Equal trees, with a message listing the first differing paths. One umoci 0.4.7 quirk is
 * allowed for: when a layer whites out a directory, or has an opaque marker, umoci
 * leaves the parent directory's mtime at the time of unpacking (it restores it after
 * every other change). aloft restores it there too, so where umoci's mtime is "now"
 * (not reproducible by anyone) only the mtime may differ.
 */
function assertSameTree(trees: { aloft: Map<string, string>; umoci: Map<string, string> }): void {
  const diffs: string[] = [];
  const mtime = /mtime=(\d+)\.\d+/;
  for (const path of new Set([...trees.aloft.keys(), ...trees.umoci.keys()])) {
    const a = trees.aloft.get(path);
    const u = trees.umoci.get(path);
    if (a === u) continue;
    const umociNow = Number(mtime.exec(u ?? '')?.[1] ?? 0) >= started;
    if (a !== undefined && u !== undefined && umociNow && u.startsWith('dir ') && a.replace(mtime, '') === u.replace(mtime, '')) continue;
    diffs.push(`${path}\n  aloft: ${a ?? '(missing)'}\n  umoci: ${u ?? '(missing)'}`);
  }
  assert.equal(diffs.length, 0, `${diffs.length} paths differ:\n${diffs.slice(0, 15).join('\n')}`);
  assert.ok(trees.aloft.size > 5, 'the image unpacked to something');
}

describe('aloft unpacks images to the same tree as umoci', { skip: SKIP }, () => {
  test('(a) the examples/hello busybox image', { skip: existsSync('/usr/bin/busybox') ? false : 'busybox is not installed (apt-get install busybox-static)' }, async () => {
    const layout = await buildHelloImage(join(work, 'hello'));
    assertSameTree(await unpackBoth(layout, 'latest'));
  });

  test('(b) a feature-rich three-layer gzip image', async () => {
    const layout = join(work, 'features');
    await writeSyntheticImage(layout, { tag: 'v1', layers: 3, files: 600, totalBytes: 3 << 20, compression: 'gzip', seed: 7 });
    const trees = await unpackBoth(layout, 'v1');
    assertSameTree(trees);
    // The features really are in the tree (not two equally empty unpacks).
    const line = (p: string) => trees.aloft.get(p) ?? '';
    assert.match(line('feat/suid'), /mode=4755/);
    assert.match(line('feat/sticky'), /mode=1777/);
    assert.match(line('feat/cap'), /security\.capability=0x0100000200200000/);
    assert.match(line('feat/xlink'), /symlink .*trusted\.linknote=/);
    assert.match(line('feat/hard-c'), /links=feat\/hard-a/);
    assert.match(line('feat/owned'), /uid=12345 gid=54321/);
    assert.equal(trees.aloft.get('feat/gone.txt'), undefined, 'whited out');
    assert.equal(trees.aloft.get('feat/opq/a'), undefined, 'hidden by the opaque marker');
    assert.ok(trees.aloft.has('feat/again'), 'a whiteout keeps what its own layer wrote');
    assert.match(line('feat/frac/f'), /mtime=\d+\.750 /, 'a PAX mtime keeps its fraction');
    assert.match(line('feat/xdir2'), /xattrs=user\.stays=0x32$/, 'a re-declared dir loses the xattrs its new entry lacks');
  });

  test('(c) a mixed zstd / uncompressed image', { skip: HAVE_ZSTD ? false : 'zstd is not installed (apt-get install zstd)' }, async () => {
    const options: SyntheticImageOptions = { tag: 'mixed', layers: 4, files: 400, totalBytes: 2 << 20, compression: ['zstd', 'none'], seed: 11 };
    const layout = join(work, 'mixed');
    await writeSyntheticImage(layout, options);
    // umoci 0.4.7 (Debian 12) cannot read zstd layers ("blob is not correct mediatype:
    // application/vnd.oci.image.layer.v1.tar+zstd"); it gets
    // the same image with the same tar layers gzip-compressed instead: same diff_ids,
    // so the same tree is expected.
    const forUmoci = join(work, 'mixed-gzip');
    await writeSyntheticImage(forUmoci, { ...options, compression: ['gzip', 'none'] });
    assertSameTree(await unpackBoth(layout, 'mixed', forUmoci));
  });

  test('(d) a distro-like image of real host files', async () => {
    const layout = join(work, 'distro');
    const dirs = ['/etc', '/usr/share/doc'].filter((d) => existsSync(d));
    await writeSyntheticImage(layout, { tag: 'distro', layers: 2, files: 100, totalBytes: 1 << 20, seed: 3, hostSample: { dirs, maxFiles: 800 } });
    assertSameTree(await unpackBoth(layout, 'distro'));
  });
});
