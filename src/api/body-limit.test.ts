import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { fields, openHarness, type Harness } from '../../test/api/harness.ts';
import { jsonDepth } from './json-depth.ts';

describe('request body limits', () => {
  let h: Harness;
  before(async () => {
    h = await openHarness({ bodyLimitBytes: 1024 });
  });
  after(() => h.close());

  test('a body over the limit is a 413 with a JSON error, and creates nothing', async () => {
    const big = await h.call('POST', '/apps', { app_name: 'web', pad: 'x'.repeat(2048) });
    assert.equal(big.status, 413);
    assert.equal(fields(big)['code'], 'PAYLOAD_TOO_LARGE');
    assert.match(fields(big)['error'] as string, /at most 1024 bytes/);
    assert.equal((await h.store.listApps()).length, 0);
  });

  test('a streamed (chunked) body over the limit is cut off with a 413 too', async () => {
    const chunk = new TextEncoder().encode('x'.repeat(512));
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ < 100) controller.enqueue(chunk);
        else controller.close();
      },
    });
    const response = await h.app.request('/v1/apps', {
      method: 'POST',
      headers: { authorization: 'Bearer test-token', 'transfer-encoding': 'chunked' },
      body,
      duplex: 'half',
    } as RequestInit);
    assert.equal(response.status, 413);
    assert.ok(sent < 100, `stopped reading after ${sent} chunks`);
  });

  test('JSON nested deeper than 64 levels is a 400, not a stack overflow', async () => {
    const deep = `{"app_name":"web","x":${'['.repeat(5000)}${']'.repeat(5000)}}`;
    const h2 = await openHarness();
    try {
      const answer = await h2.call('POST', '/apps', deep);
      assert.equal(answer.status, 400);
      assert.match(fields(answer)['error'] as string, /nest at most 64 levels deep: got 5001/);
    } finally {
      await h2.close();
    }
  });

  test('jsonDepth ignores brackets inside strings', () => {
    assert.equal(jsonDepth('{"a":"[[[{{\\"]]"}'), 1);
    assert.equal(jsonDepth('[[1],[[2]]]'), 3);
  });
});
