import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { buildOnce } from './build-cache.ts';

test('concurrent callers build once, and a later call reuses the result', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'aloft-cache-'));
  try {
    let builds = 0;
    const build = async (temp: string): Promise<void> => {
      builds += 1;
      await writeFile(join(temp, 'out'), 'built');
    };
    const target = join(dir, 'thing-v1');
    const [a, b] = await Promise.all([buildOnce(target, build), buildOnce(target, build)]);
    assert.equal(a, target);
    assert.equal(b, target);
    assert.equal(await buildOnce(target, build), target);
    assert.equal(builds, 1);
    assert.equal(await readFile(join(target, 'out'), 'utf8'), 'built');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a failed build leaves nothing behind and the next call tries again', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'aloft-cache-'));
  try {
    const target = join(dir, 'thing');
    await assert.rejects(buildOnce(target, async (temp) => {
      await writeFile(join(temp, 'half'), 'x');
      throw new Error('compiler broke');
    }), /compiler broke/);
    assert.deepEqual(await readdir(dir), []);
    await buildOnce(target, async (temp) => writeFile(join(temp, 'out'), 'ok'));
    assert.equal(await readFile(join(target, 'out'), 'utf8'), 'ok');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
