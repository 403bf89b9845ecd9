import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AloftError } from '../../lib/errors.ts';
import type { RegistryAction } from './context.ts';
import { errorCode, pushImage, startTestRegistry } from './test-fixture.ts';

test('the authorize hook sees repo and action and can refuse (DENIED) or throw (UNAUTHORIZED)', async () => {
  const seen: [string | undefined, RegistryAction][] = [];
  const reg = await startTestRegistry((req, repo, action) => {
    seen.push([repo, action]);
    if (req.headers.authorization === undefined && action !== 'pull') throw new AloftError('UNAUTHORIZED', 'Cannot push as a token must be given: got none');
    return repo !== 'secret';
  });
  try {
    const anon = await fetch(`${reg.base}/v2/open/blobs/uploads/`, { method: 'POST' });
    assert.equal(anon.status, 401);
    assert.equal(await errorCode(anon), 'UNAUTHORIZED');
    const denied = await fetch(`${reg.base}/v2/secret/tags/list`);
    assert.equal(denied.status, 403);
    assert.equal(await errorCode(denied), 'DENIED');
    assert.deepEqual(seen, [
      ['open', 'push'],
      ['secret', 'pull'],
    ]);
  } finally {
    await reg.close();
  }
});

test('by default every request is allowed', async () => {
  const reg = await startTestRegistry();
  try {
    await pushImage(reg.base, 'anyone', 'latest', 'x');
    assert.equal((await fetch(`${reg.base}/v2/anyone/manifests/latest`)).status, 200);
  } finally {
    await reg.close();
  }
});
