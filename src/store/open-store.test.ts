import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { openStoreFromUrl } from './open-store.ts';
import { startTestEtcd } from './etcd/testing.ts';

test('sqlite: URLs open a shared SQLite file, with or without //', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'aloft-open-store-'));
  try {
    for (const url of [`sqlite:${dir}/a.db`, `sqlite://${dir}/a.db`]) {
      const store = await openStoreFromUrl(url);
      await store.setMeta('k', url);
      assert.equal(await store.getMeta('k'), url);
      await store.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('bad store URLs are refused with what to use', async () => {
  await assert.rejects(openStoreFromUrl('sqlite:relative.db'), { code: 'INVALID_ARGUMENT', message: /Cannot open the store as 'store' must be sqlite: followed by an absolute path/ });
  await assert.rejects(openStoreFromUrl('postgres://x'), { code: 'INVALID_ARGUMENT', message: /'store' must be a URL "sqlite:/ });
  await assert.rejects(openStoreFromUrl('etcd://'), { code: 'INVALID_ARGUMENT', message: /'store' must be etcd:\/\/ followed by host:port pairs/ });
  await assert.rejects(openStoreFromUrl('etcd://host-without-port'), { code: 'INVALID_ARGUMENT', message: /host:port pairs/ });
});

test('etcd:// URLs open the etcd store, with a prefix of their own when given', async () => {
  const etcd = await startTestEtcd();
  try {
    const host = etcd.endpoints[0]!.replace('http://', '');
    const a = await openStoreFromUrl(`etcd://${host}/test-a`);
    const b = await openStoreFromUrl(`etcd://${host}/test-b`);
    await a.setMeta('k', 'a');
    assert.equal(await a.getMeta('k'), 'a');
    assert.equal(await b.getMeta('k'), undefined, 'two prefixes share nothing');
    await a.close();
    await b.close();
  } finally {
    await etcd.stop();
  }
});
