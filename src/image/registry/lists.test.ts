import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { errorCode, pushImage, startTestRegistry, type TestRegistry } from './test-fixture.ts';

let reg: TestRegistry;
before(async () => {
  reg = await startTestRegistry();
  for (const tag of ['v3', 'latest', 'v1', 'v2']) await pushImage(reg.base, 'team/api', tag, tag);
  await pushImage(reg.base, 'alpha', 'latest', 'a');
  await pushImage(reg.base, 'team/api/worker', 'latest', 'w');
});
after(async () => {
  await reg.close();
});

test('tags/list returns every tag, sorted', async () => {
  const res = await fetch(`${reg.base}/v2/team/api/tags/list`);
  assert.deepEqual(await res.json(), { name: 'team/api', tags: ['latest', 'v1', 'v2', 'v3'] });
});

test('tags/list pages with n and last and a Link to the next page', async () => {
  const first = await fetch(`${reg.base}/v2/team/api/tags/list?n=2`);
  assert.deepEqual(((await first.json()) as { tags: string[] }).tags, ['latest', 'v1']);
  assert.equal(first.headers.get('link'), '</v2/team/api/tags/list?n=2&last=v1>; rel="next"');
  const second = await fetch(`${reg.base}/v2/team/api/tags/list?n=2&last=v1`);
  assert.deepEqual(((await second.json()) as { tags: string[] }).tags, ['v2', 'v3']);
  assert.equal(second.headers.get('link'), null);
  const bad = await fetch(`${reg.base}/v2/team/api/tags/list?n=-1`);
  assert.equal(bad.status, 400);
});

test('tags/list of an unknown repository is NAME_UNKNOWN', async () => {
  const res = await fetch(`${reg.base}/v2/nobody/tags/list`);
  assert.equal(res.status, 404);
  assert.equal(await errorCode(res), 'NAME_UNKNOWN');
});

test('_catalog lists nested repositories, sorted and paged', async () => {
  const all = await fetch(`${reg.base}/v2/_catalog`);
  assert.deepEqual(await all.json(), { repositories: ['alpha', 'team/api', 'team/api/worker'] });
  const page = await fetch(`${reg.base}/v2/_catalog?n=1&last=alpha`);
  assert.deepEqual(await page.json(), { repositories: ['team/api'] });
  assert.equal(page.headers.get('link'), '</v2/_catalog?n=1&last=team%2Fapi>; rel="next"');
});
