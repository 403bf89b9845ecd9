import assert from 'node:assert/strict';
import { lstat, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { isAloftError } from '../lib/errors.ts';
import { digestHex, sha256Digest } from './digest.ts';
import { ImageStore } from './image-store.ts';
import { MEDIA_TYPES } from './media-types.ts';
import { hostPlatform } from './platform.ts';
import { makeTar, type FixtureEntry } from './tar-fixture.ts';
import { unpackLayer } from './unpack-layer.ts';
import { quoteName, UnpackBudget, type UnpackLimits } from './unpack-limits.ts';
import { addToLayout } from './write-layout.ts';

// A corpus of hand-made hostile layers. Each must be refused with IMAGE_UNSAFE naming
// its layer and entry, and must leave the sentinel directory beside the root exactly as
// it was: same names, sizes, contents and mtimes.

const MiB = 1024 * 1024;
/** A body of zeros: megabytes unpacked, a few KiB once gzipped. */
const ZEROS = Buffer.alloc(32 * MiB);

let base: string;
let outside: string;
let sentinel: Map<string, string>;
let n = 0;

before(async () => {
  base = await mkdtemp(join(tmpdir(), 'aloft-corpus-'));
  outside = join(base, 'outside');
  await mkdir(join(outside, 'sub'), { recursive: true });
  await writeFile(join(outside, 'secret'), 'keep me');
  await writeFile(join(outside, 'sub', 'deep'), 'keep me too');
  sentinel = await snapshot(outside);
});
after(() => rm(base, { recursive: true, force: true }));

/** Every path under `dir` (itself included) with its type, size, mtime, links and content. */
async function snapshot(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (path: string, rel: string): Promise<void> => {
    const st = await lstat(path);
    const content = st.isFile() ? await readFile(path, 'utf8') : '';
    out.set(rel, `${st.mode}:${st.size}:${st.mtimeMs}:${st.nlink}:${content}`);
    if (st.isDirectory()) for (const name of await readdir(path)) await walk(join(path, name), `${rel}/${name}`);
  };
  await walk(dir, '.');
  return out;
}

async function freshRoot(): Promise<string> {
  const root = join(base, `root-${n++}`);
  await mkdir(root);
  return root;
}

interface Layer {
  entries: FixtureEntry[];
  gzip?: boolean;
  /** Raw bytes appended to the tar before compression (zero-block bombs). */
  trailer?: Buffer;
}

interface Case {
  name: string;
  /** Layers bottom first; all but the last must unpack cleanly. */
  layers: (root: string) => Layer[];
  limits?: Partial<UnpackLimits>;
  /** The entry the error must name (undefined: none, e.g. a stream limit before any). */
  entry: (root: string) => string;
  /** The message after "Cannot unpack layer <digest> as ". */
  message: (root: string) => string;
  /** Extra checks on the root after the refusal. */
  check?: (root: string) => Promise<void>;
}

async function layerBytes(layer: Layer): Promise<Buffer> {
  const tar = await makeTar(layer.entries);
  const full = layer.trailer === undefined ? tar : Buffer.concat([tar, layer.trailer]);
  return layer.gzip ? gzipSync(full) : full;
}

const deepPath = `${'a/'.repeat(2100)}f`;
const longComponent = `d/${'x'.repeat(300)}`;
const longTarget = 't'.repeat(100_000);

const cases: Case[] = [
  {
    name: "a '../' escape",
    layers: () => [{ entries: [{ name: '../outside/pwned', content: 'x' }] }],
    entry: () => '../outside/pwned',
    message: () => "entry '../outside/pwned' must stay inside the root: got a path with '..'",
  },
  {
    name: 'an absolute path',
    layers: () => [{ entries: [{ name: `${outside}/pwned`, content: 'x' }], gzip: true }],
    entry: () => `${outside}/pwned`,
    message: () => `entry '${outside}/pwned' must be a relative path inside the root: got an absolute path '${outside}/pwned'`,
  },
  {
    name: "a symlink to '/' then a file written through it, in one layer",
    layers: () => [
      {
        entries: [
          { name: 'host', type: 'symlink', linkname: '/' },
          { name: `host${outside}/pwned`, content: 'x' },
        ],
      },
    ],
    entry: () => `host${outside}/pwned`,
    message: () => `entry 'host${outside}/pwned' must not be written through a symlink: got 'host' is a symlink`,
  },
  {
    name: "a symlink to '..' then a file written through it, in one layer",
    layers: () => [
      {
        entries: [
          { name: 'up', type: 'symlink', linkname: '..' },
          { name: 'up/outside/pwned', content: 'x' },
        ],
        gzip: true,
      },
    ],
    entry: () => 'up/outside/pwned',
    message: () => "entry 'up/outside/pwned' must not be written through a symlink: got 'up' is a symlink",
  },
  {
    name: 'a symlink planted by layer 1, written through by layer 2',
    layers: () => [{ entries: [{ name: 'up', type: 'symlink', linkname: '../outside' }] }, { entries: [{ name: 'up/secret', content: 'overwritten' }], gzip: true }],
    entry: () => 'up/secret',
    message: () => "entry 'up/secret' must not be written through a symlink: got 'up' is a symlink",
  },
  {
    name: 'a hard link to /etc/passwd',
    layers: () => [{ entries: [{ name: 'passwd', type: 'link', linkname: '/etc/passwd' }] }],
    entry: () => 'passwd',
    message: () => "entry 'passwd' must link to a path inside the root: got link target '/etc/passwd'",
  },
  {
    name: 'a hard link through a symlinked parent',
    layers: () => [
      {
        entries: [
          { name: 's', type: 'symlink', linkname: outside },
          { name: 'hl', type: 'link', linkname: 's/secret' },
        ],
      },
    ],
    entry: () => 'hl',
    message: () => "entry 'hl' must not be written through a symlink: got 's' is a symlink",
  },
  {
    name: 'a character device',
    layers: () => [{ entries: [{ name: 'dev/mem', type: 'character-device', devmajor: 1, devminor: 1, mode: 0o666 }] }],
    entry: () => 'dev/mem',
    message: () => "entry 'dev/mem' must not be a device node: got a character-device 1:1",
    check: async (root) => assert.equal(await lstat(join(root, 'dev/mem')).catch(() => undefined), undefined),
  },
  {
    name: 'a block device',
    layers: () => [{ entries: [{ name: 'dev/sda', type: 'block-device', devmajor: 8, devminor: 0, mode: 0o660 }], gzip: true }],
    entry: () => 'dev/sda',
    message: () => "entry 'dev/sda' must not be a device node: got a block-device 8:0",
    check: async (root) => assert.equal(await lstat(join(root, 'dev/sda')).catch(() => undefined), undefined),
  },
  {
    name: 'a whiteout through a symlink',
    layers: () => [{ entries: [{ name: 's', type: 'symlink', linkname: outside }] }, { entries: [{ name: 's/.wh.secret', content: '' }] }],
    entry: () => 's/.wh.secret',
    message: () => "entry 's/.wh.secret' must not be written through a symlink: got 's' is a symlink",
  },
  {
    name: 'an opaque marker through a symlink',
    layers: () => [{ entries: [{ name: 's', type: 'symlink', linkname: outside }] }, { entries: [{ name: 's/.wh..wh..opq', content: '' }], gzip: true }],
    entry: () => 's/.wh..wh..opq',
    message: () => "entry 's/.wh..wh..opq' must not be written through a symlink: got 's' is a symlink",
  },
  {
    name: 'a directory replaced by a symlink, then written through',
    layers: () => [
      {
        entries: [
          { name: 'd/', type: 'directory' },
          { name: 'd/a', content: 'inside' },
          { name: 'd', type: 'symlink', linkname: outside },
          { name: 'd/pwned', content: 'x' },
        ],
      },
    ],
    entry: () => 'd/pwned',
    message: () => "entry 'd/pwned' must not be written through a symlink: got 'd' is a symlink",
  },
  {
    name: 'the root entry as a symlink',
    layers: () => [{ entries: [{ name: './', type: 'symlink', linkname: outside }] }],
    entry: () => './',
    message: () => "entry './' must be a directory when it names the root: got a symlink",
  },
  {
    name: 'a path longer than 4096 bytes',
    layers: () => [{ entries: [{ name: deepPath, content: 'x' }] }],
    entry: () => deepPath,
    message: () => `entry ${quoteName(deepPath)} must have a path of at most 4096 bytes: got ${deepPath.length} bytes`,
    check: async (root) => assert.deepEqual(await readdir(root), [], 'refused before any parent is made'),
  },
  {
    name: 'a path component over 255 bytes',
    layers: () => [{ entries: [{ name: longComponent, content: 'x' }], gzip: true }],
    entry: () => longComponent,
    message: () => `entry ${quoteName(longComponent)} must have path components of at most 255 bytes: got a component of 300 bytes`,
  },
  {
    name: 'a symlink with an absurdly long target',
    layers: () => [{ entries: [{ name: 'far', type: 'symlink', linkname: longTarget }] }],
    entry: () => 'far',
    message: () => "entry 'far' must have a link target of at most 4096 bytes: got 100000 bytes",
  },
  {
    name: 'a gzip bomb: 32 MiB of zeros in one file, limit 1 MiB',
    layers: () => [{ entries: [{ name: 'ok', content: 'fine' }, { name: 'bomb', content: ZEROS }], gzip: true }],
    limits: { maxImageBytes: MiB },
    entry: () => 'bomb',
    message: () => `the image must unpack to at most ${MiB} bytes: got more at entry 'bomb'`,
    check: async (root) => assert.deepEqual(await readdir(root), ['ok'], 'the bomb was refused before a byte of it was written'),
  },
  {
    name: 'bytes past the limit across two layers (the budget is per image)',
    layers: () => [{ entries: [{ name: 'a', content: Buffer.alloc(600) }] }, { entries: [{ name: 'b', content: Buffer.alloc(600) }] }],
    limits: { maxImageBytes: 1000 },
    entry: () => 'b',
    message: () => "the image must unpack to at most 1000 bytes: got more at entry 'b'",
  },
  {
    name: 'a zero-block bomb: 32 MiB of empty tar blocks that write nothing',
    layers: () => [{ entries: [{ name: 'small', content: 'x' }], trailer: ZEROS, gzip: true }],
    limits: { maxTarBytes: MiB },
    entry: () => 'small',
    message: () => `its tar streams must decompress to at most ${MiB} bytes: got more after entry 'small'`,
  },
  {
    name: 'too many files (limit 5)',
    layers: () => [{ entries: Array.from({ length: 10 }, (_, i) => ({ name: `f${i}`, content: '' })) }],
    limits: { maxImageEntries: 5 },
    entry: () => 'f5',
    message: () => "the image must have at most 5 entries: got more at entry 'f5'",
    check: async (root) => assert.equal((await readdir(root)).length, 5),
  },
  {
    name: 'implicit parent directories count as entries',
    layers: () => [{ entries: [{ name: `${'d/'.repeat(10)}f`, content: '' }] }],
    limits: { maxImageEntries: 5 },
    entry: () => `${'d/'.repeat(10)}f`,
    message: () => `the image must have at most 5 entries: got more at entry '${'d/'.repeat(10)}f'`,
  },
  {
    name: 'too many tar headers in one layer (limit 5), whiteouts included',
    layers: () => [{ entries: Array.from({ length: 10 }, (_, i) => ({ name: `.wh.g${i}`, content: '' })) }],
    limits: { maxLayerEntries: 5 },
    entry: () => '.wh.g5',
    message: () => "it must have at most 5 tar entries: got more at entry '.wh.g5'",
  },
];

describe('malicious layer corpus: each is refused and nothing outside the root changes', () => {
  for (const c of cases) {
    test(c.name, async () => {
      const root = await freshRoot();
      const layers = c.layers(root);
      const budget = new UnpackBudget(c.limits);
      const blobs = await Promise.all(layers.map(layerBytes));
      const digests = blobs.map((b) => sha256Digest(b));
      for (const [i, blob] of blobs.slice(0, -1).entries()) {
        await unpackLayer(root, Readable.from([blob]), { digest: digests[i] ?? '', budget });
      }
      const last = digests.at(-1) ?? '';
      const entry = c.entry(root);
      await assert.rejects(unpackLayer(root, Readable.from([blobs.at(-1) ?? Buffer.alloc(0)]), { digest: last, budget }), (err) => {
        assert.ok(isAloftError(err, 'IMAGE_UNSAFE'), `IMAGE_UNSAFE, got ${String(err)}`);
        assert.equal(err.message, `Cannot unpack layer ${last} as ${c.message(root)}`);
        assert.ok(err.message.includes(quoteName(entry)), 'the message names the entry');
        assert.deepEqual(err.details, { layer: last, entry });
        return true;
      });
      assert.deepEqual(await snapshot(outside), sentinel, 'the sentinel outside the root is untouched');
      await c.check?.(root);
    });
  }

  test('the corpus has at least 12 distinct cases', () => {
    assert.ok(cases.length >= 12);
    assert.equal(new Set(cases.map((c) => c.name)).size, cases.length);
  });
});

describe('ImageStore.unpack over a limit leaves nothing behind', () => {
  /** An OCI layout holding one image made of `layers` (tars, gzipped here). */
  async function layoutOf(name: string, tars: Buffer[]): Promise<{ dir: string; layers: string[] }> {
    const dir = join(base, name);
    const blobs = tars.map((t) => gzipSync(t));
    const config = Buffer.from(JSON.stringify({ architecture: hostPlatform().architecture, os: 'linux', rootfs: { type: 'layers', diff_ids: tars.map((t) => sha256Digest(t)) } }));
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MEDIA_TYPES.ociManifest,
        config: { mediaType: MEDIA_TYPES.ociConfig, digest: sha256Digest(config), size: config.length },
        layers: blobs.map((b) => ({ mediaType: MEDIA_TYPES.ociLayerGzip, digest: sha256Digest(b), size: b.length })),
      }),
    );
    await addToLayout(dir, { manifest, blobs: [config, ...blobs], tag: 'latest', platform: hostPlatform() });
    return { dir, layers: blobs.map((b) => sha256Digest(b)) };
  }

  test('a gzip bomb in layer 2 fails the unpack; no image dir and no temp dir remain', async () => {
    const { dir, layers } = await layoutOf('bomb-image', [await makeTar([{ name: 'app/ok', content: Buffer.alloc(1000) }]), await makeTar([{ name: 'app/bomb', content: ZEROS }])]);
    const images = new ImageStore(join(base, 'store-bomb'), { unpackLimits: { maxImageBytes: MiB } });
    const image = await images.resolve(dir);
    await assert.rejects(images.unpack(image.digest), (err) => {
      assert.ok(isAloftError(err, 'IMAGE_UNSAFE'));
      assert.equal(err.message, `Cannot unpack layer ${layers[1]} as the image must unpack to at most ${MiB} bytes: got more at entry 'app/bomb'`);
      return true;
    });
    assert.equal(await stat(join(images.dir, 'unpacked', digestHex(image.digest))).catch(() => undefined), undefined);
    assert.deepEqual(await readdir(join(images.dir, 'unpacked')), []);
    assert.deepEqual((await readdir(join(images.dir, 'tmp'))).filter((name) => name.startsWith('unpack-')), []);
    // The same image unpacks under the default limits: the refusal was the limit's.
    const roomy = new ImageStore(join(base, 'store-roomy'));
    const path = await roomy.unpack((await roomy.resolve(dir)).digest);
    assert.equal((await stat(join(path, 'app/bomb'))).size, ZEROS.length);
  });
});
