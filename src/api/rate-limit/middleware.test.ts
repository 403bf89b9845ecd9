import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ManualClock } from '../../lib/clock.ts';
import { fields, openHarness, type Harness } from '../../../test/api/harness.ts';

describe('rate limits on the Machines API', () => {
  const clock = new ManualClock(1_000_000);
  let h: Harness;
  let id: string;

  before(async () => {
    h = await openHarness({ clock });
    await h.call('POST', '/apps', { app_name: 'web' });
    id = fields(await h.call('POST', '/apps/web/machines', { config: { image: 'ok-image' }, skip_launch: true }))['id'] as string;
  });
  after(() => h.close());

  test('get Machine: burst 10, then 429 with Retry-After and a JSON error', async () => {
    for (let i = 0; i < 10; i++) assert.equal((await h.call('GET', `/apps/web/machines/${id}`)).status, 200);
    const refused = await h.call('GET', `/apps/web/machines/${id}`);
    assert.equal(refused.status, 429);
    assert.equal(refused.headers.get('retry-after'), '1');
    assert.equal(fields(refused)['code'], 'RATE_LIMITED');
    assert.match(fields(refused)['error'] as string, /at most 5\/s/);
    clock.advance(200); // 5/s: one token back
    assert.equal((await h.call('GET', `/apps/web/machines/${id}`)).status, 200);
  });

  test('actions: burst 3 per action, and another action has its own bucket', async () => {
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await h.call('POST', `/apps/web/machines/${id}/stop`, {})).status);
    assert.deepEqual(statuses, [412, 412, 412, 429]);
    assert.equal((await h.call('POST', `/apps/web/machines/${id}/start`)).status, 200);
  });

  test('requests without a valid token are refused with 401 before any rate limit', async () => {
    assert.equal((await h.call('POST', `/apps/web/machines/${id}/stop`, {}, null)).status, 401);
    assert.equal((await h.call('POST', `/apps/web/machines/${id}/stop`, {}, 'wrong')).status, 401);
  });

  test('rateLimits: false turns them off', async () => {
    const off = await openHarness({ rateLimits: false });
    try {
      await off.call('POST', '/apps', { app_name: 'web' });
      const mid = fields(await off.call('POST', '/apps/web/machines', { config: { image: 'ok-image' }, skip_launch: true }))['id'] as string;
      for (let i = 0; i < 30; i++) assert.equal((await off.call('GET', `/apps/web/machines/${mid}`)).status, 200);
    } finally {
      await off.close();
    }
  });
});
