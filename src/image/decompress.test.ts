import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { isAloftError } from '../lib/errors.ts';
import { decompress, detectCompression } from './decompress.ts';
import { makeTar } from './tar-fixture.ts';
import { unpackLayer } from './unpack-layer.ts';
import { MAX_ZSTD_WINDOW } from './zstd-stream.ts';

const LAYER = `sha256:${'cd'.repeat(32)}`;
const HAVE_ZSTD = existsSync('/usr/bin/zstd');

let base: string;
let n = 0;
before(async () => {
  base = await mkdtemp(join(tmpdir(), 'aloft-zstd-'));
});
after(() => rm(base, { recursive: true, force: true }));

async function freshRoot(): Promise<string> {
  const root = join(base, `root-${n++}`);
  await mkdir(root);
  return root;
}

/** A zstd frame by hand: 8 MiB window, the given blocks (the last one marked last). */
function frame(blocks: Buffer[], windowLog = 23): Buffer {
  const header = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, (windowLog - 10) << 3]);
  return Buffer.concat([header, ...blocks.map((b, i) => (i === blocks.length - 1 ? Buffer.concat([Buffer.from([b[0]! | 1]), b.subarray(1)]) : b))]);
}

/** A raw (stored) block holding `data` (at most 128 KiB). */
function rawBlock(data: Buffer): Buffer {
  const h = data.length << 3;
  return Buffer.concat([Buffer.from([h & 0xff, (h >> 8) & 0xff, (h >> 16) & 0xff]), data]);
}

/** An RLE block: `size` copies of `byte` from 4 bytes, the shape of a zstd bomb. */
function rleBlock(byte: number, size: number): Buffer {
  const h = (size << 3) | (1 << 1);
  return Buffer.from([h & 0xff, (h >> 8) & 0xff, (h >> 16) & 0xff, byte]);
}

/** `tar` as several stored zstd frames with a skippable frame between them. */
function storedZstd(tar: Buffer): Buffer {
  const frames: Buffer[] = [];
  for (let at = 0; at < tar.length; at += 300_000) {
    const part = tar.subarray(at, at + 300_000);
    const blocks: Buffer[] = [];
    for (let i = 0; i < part.length; i += 100_000) blocks.push(rawBlock(part.subarray(i, i + 100_000)));
    frames.push(frame(blocks));
    frames.push(Buffer.from([0x50, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 9, 9, 9]));
  }
  return Buffer.concat(frames);
}

function zstdCli(data: Buffer): Buffer {
  const r = spawnSync('zstd', ['-3', '-q', '-c'], { input: data, maxBuffer: 1 << 30 });
  assert.equal(r.status, 0, String(r.stderr));
  return r.stdout;
}

/** Splits into small chunks so frames and blocks straddle chunk edges. */
function chunked(data: Buffer, size = 7_777): Readable {
  const parts: Buffer[] = [];
  for (let i = 0; i < data.length; i += size) parts.push(data.subarray(i, i + size));
  return Readable.from(parts);
}

describe('zstd layers', () => {
  test('detectCompression tells zstd by its magic bytes', () => {
    assert.equal(detectCompression(Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0])), 'zstd');
  });

  test('a layer of stored zstd frames (with a skippable frame) unpacks', async () => {
    const big = Buffer.alloc(700_000, 'z');
    const tar = await makeTar([{ name: 'etc/zstd.txt', content: 'from zstd\n' }, { name: 'big.bin', content: big }]);
    const root = await freshRoot();
    await unpackLayer(root, chunked(storedZstd(tar)), { digest: LAYER });
    assert.equal(await readFile(join(root, 'etc/zstd.txt'), 'utf8'), 'from zstd\n');
    assert.deepEqual(await readFile(join(root, 'big.bin')), big);
  });

  test('a layer compressed by the zstd tool unpacks', { skip: HAVE_ZSTD ? false : 'zstd is not installed (apt-get install zstd)' }, async () => {
    const files = Array.from({ length: 50 }, (_, i) => ({ name: `d/f${i}`, content: `file ${i} `.repeat(i * 100) }));
    const root = await freshRoot();
    await unpackLayer(root, chunked(zstdCli(await makeTar(files))), { digest: LAYER });
    assert.equal((await readdir(join(root, 'd'))).length, 50);
    assert.equal(await readFile(join(root, 'd/f49'), 'utf8'), 'file 49 '.repeat(4900));
  });

  test('a zstd bomb is stopped by the tar byte limit', async () => {
    // 4 bytes per 128 KiB: 2 GiB of zeros from 64 KiB; the limit is 16 MiB.
    const bomb = frame(Array.from({ length: 16_384 }, () => rleBlock(0, 128 << 10)));
    const root = await freshRoot();
    const before = process.memoryUsage().rss;
    await assert.rejects(unpackLayer(root, chunked(bomb, 65_536), { digest: LAYER, limits: { maxTarBytes: 16 << 20 } }), (err) => {
      assert.ok(isAloftError(err, 'IMAGE_UNSAFE'), String(err));
      assert.match(err.message, new RegExp(`^Cannot unpack layer ${LAYER} as its tar streams must decompress to at most ${16 << 20} bytes`));
      return true;
    });
    assert.ok(process.memoryUsage().rss - before < 512 << 20, 'the bomb was not inflated in memory');
  });

  test('a frame asking for a window over the limit is refused before decoding', async () => {
    const huge = frame([rawBlock(Buffer.from('x'))], 31);
    await assert.rejects(unpackLayer(await freshRoot(), Readable.from([huge]), { digest: LAYER }), (err) => {
      assert.ok(isAloftError(err, 'IMAGE_UNSAFE'));
      assert.equal(err.message, `Cannot unpack layer ${LAYER} as its zstd window must be at most ${MAX_ZSTD_WINDOW} bytes: got ${2 ** 31}`);
      return true;
    });
  });

  test('a corrupt zstd stream is IMAGE_INVALID naming the layer', async () => {
    const tar = await makeTar([{ name: 'a.txt', content: 'x'.repeat(5000) }]);
    const cases: [string, Buffer, RegExp][] = [
      ['truncated', storedZstd(tar).subarray(0, 2000), /its zstd stream must end after a complete frame: got a truncated stream/],
      ['a reserved block type', Buffer.concat([frame([rawBlock(Buffer.from('ok'))]).subarray(0, 6), Buffer.from([0x07, 0, 0])]), /its zstd blocks must have a known type/],
      ['garbage after a frame', Buffer.concat([storedZstd(tar), Buffer.from('not a frame at all')]), /its zstd frames must start with the zstd magic number/],
    ];
    if (HAVE_ZSTD) {
      const good = zstdCli(await makeTar([{ name: 'b.txt', content: 'hello zstd '.repeat(3000) }]));
      const bad = Buffer.from(good);
      for (let i = 12; i < bad.length - 8; i += 3) bad[i] = bad[i]! ^ 0x5a;
      cases.push(['corrupt compressed blocks', bad, /zstd|tar/]);
    }
    for (const [name, bytes, pattern] of cases) {
      await assert.rejects(unpackLayer(await freshRoot(), Readable.from([bytes]), { digest: LAYER }), (err) => {
        assert.ok(isAloftError(err, 'IMAGE_INVALID') || isAloftError(err, 'IMAGE_UNSAFE'), `${name}: ${String(err)}`);
        assert.ok(err.message.startsWith(`Cannot unpack layer ${LAYER} as `), `${name}: ${err.message}`);
        assert.match(err.message, pattern, name);
        return true;
      });
    }
  });

  test('decompress passes plain tar through untouched', async () => {
    const tar = await makeTar([{ name: 'x', content: 'plain' }]);
    const out: Buffer[] = [];
    for await (const chunk of await decompress(Readable.from([tar]), 'layer x')) out.push(chunk as Buffer);
    assert.deepEqual(Buffer.concat(out), tar);
  });
});
