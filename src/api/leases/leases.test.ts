import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ManualClock } from '../../lib/clock.ts';
import { openSqliteStore, type Store } from '../../store/index.ts';
import { testApi } from '../testing-api.ts';
import { LEASE_NONCE_HEADER } from './nonce-header.ts';

const T0 = 1_700_000_000_000;

describe('Machine leases over the API', () => {
  let store: Store;
  const clock = new ManualClock(T0);
  let call: ReturnType<typeof testApi>['call'];

  const newMachine = async (extra: Record<string, unknown> = {}) => {
    const created = await call('POST', '/apps/leased/machines', { body: { config: { image: 'ok-image' }, skip_launch: true, ...extra } });
    assert.equal(created.status, 200, created.body.error);
    return created;
  };
  const lease = (id: string, body: unknown = { ttl: 60, description: 'deploy' }, nonce?: string) =>
    call('POST', `/apps/leased/machines/${id}/lease`, { body, ...(nonce ? { headers: { [LEASE_NONCE_HEADER]: nonce } } : {}) });
  const withNonce = (nonce: string) => ({ headers: { [LEASE_NONCE_HEADER]: nonce } });

  before(async () => {
    store = await openSqliteStore({ path: ':memory:' });
    ({ call } = testApi(store, clock));
    assert.equal((await call('POST', '/apps', { body: { app_name: 'leased' } })).status, 201);
  });
  after(() => store.close());

  test('acquire answers Fly’s envelope; show finds it; a second acquirer gets 409 naming the holder', async () => {
    const id = (await newMachine()).body['id'] as string;
    assert.equal((await call('GET', `/apps/leased/machines/${id}/lease`)).status, 404, 'no lease yet');
    const taken = await lease(id);
    assert.equal(taken.status, 200);
    const data = taken.body['data'] as Record<string, unknown>;
    assert.equal(taken.body['status'], 'success');
    assert.deepEqual({ ...data, nonce: 'x' }, { nonce: 'x', expires_at: T0 / 1000 + 60, owner: 'operator', description: 'deploy', version: '1' });
    assert.deepEqual((await call('GET', `/apps/leased/machines/${id}/lease`)).body, taken.body);
    const second = await lease(id);
    assert.equal(second.status, 409);
    assert.equal(second.body.code, 'MACHINE_LEASED');
    assert.match(second.body.error!, /lease currently held by operator/);
    assert.equal((await lease(id, {}, 'wrong-nonce')).status, 409);
  });

  test('refreshing with the nonce keeps it and moves expires_at', async () => {
    const id = (await newMachine()).body['id'] as string;
    const nonce = ((await lease(id)).body['data'] as { nonce: string }).nonce;
    clock.advance(30_000);
    const refreshed = await lease(id, { ttl: 120 }, nonce);
    assert.equal(refreshed.status, 200);
    assert.equal((refreshed.body['data'] as { nonce: string }).nonce, nonce);
    assert.equal((refreshed.body['data'] as { expires_at: number }).expires_at, (T0 + 30_000) / 1000 + 120);
    clock.advance(-30_000);
  });

  test('release needs the nonce: missing or wrong is 409, right is 200, then 404', async () => {
    const id = (await newMachine()).body['id'] as string;
    const nonce = ((await lease(id)).body['data'] as { nonce: string }).nonce;
    const missing = await call('DELETE', `/apps/leased/machines/${id}/lease`);
    assert.equal(missing.status, 409);
    assert.match(missing.body.error!, /'fly-machine-lease-nonce' must be the lease's nonce: got nothing/);
    assert.equal((await call('DELETE', `/apps/leased/machines/${id}/lease`, withNonce('wrong'))).status, 409);
    assert.equal((await call('DELETE', `/apps/leased/machines/${id}/lease`, withNonce(nonce))).status, 200);
    const again = await call('DELETE', `/apps/leased/machines/${id}/lease`, withNonce(nonce));
    assert.equal(again.status, 404);
    assert.equal(again.body.code, 'LEASE_NOT_FOUND');
  });

  test('a lease lapses at expires_at (ManualClock): gone from show, and others may take it', async () => {
    const start = clock.now();
    const id = (await newMachine()).body['id'] as string;
    await lease(id, { ttl: 10 });
    clock.advance(9_999);
    assert.equal((await call('GET', `/apps/leased/machines/${id}/lease`)).status, 200);
    assert.equal((await call('POST', `/apps/leased/machines/${id}/start`)).status, 409, 'still leased');
    clock.advance(1);
    assert.equal((await call('GET', `/apps/leased/machines/${id}/lease`)).status, 404);
    assert.equal((await call('POST', `/apps/leased/machines/${id}/start`)).status, 200, 'lapsed: no nonce needed');
    assert.equal((await lease(id)).status, 200);
    clock.advance(start - clock.now());
  });

  test('mutations of a leased machine need the nonce; reads never do', async () => {
    const id = (await newMachine()).body['id'] as string;
    const nonce = ((await lease(id)).body['data'] as { nonce: string }).nonce;
    const refused = await call('POST', `/apps/leased/machines/${id}/start`);
    assert.equal(refused.status, 409);
    assert.equal(refused.body.code, 'MACHINE_LEASED');
    assert.match(refused.body.error!, /Cannot start machine .* 'fly-machine-lease-nonce' must be the nonce of its lease: lease currently held by operator/);
    assert.equal((await call('DELETE', `/apps/leased/machines/${id}`)).status, 409, 'destroy is guarded too');
    assert.equal((await call('POST', `/apps/leased/machines/${id}/start`, withNonce('wrong'))).status, 409);
    assert.equal((await call('GET', `/apps/leased/machines/${id}`)).status, 200);
    assert.equal((await call('GET', '/apps/leased/machines')).status, 200);
    assert.equal((await call('POST', `/apps/leased/machines/${id}/start`, withNonce(nonce))).status, 200);
    assert.equal((await store.getMachine(id))?.state, 'starting');
  });

  test('create with lease_ttl answers the nonce, and the new machine is leased by it', async () => {
    const created = await newMachine({ lease_ttl: 60 });
    const id = created.body['id'] as string;
    const nonce = created.body['nonce'];
    assert.equal(typeof nonce, 'string');
    const shown = await call('GET', `/apps/leased/machines/${id}/lease`);
    assert.equal((shown.body['data'] as { nonce: string }).nonce, nonce);
    assert.equal((await call('POST', `/apps/leased/machines/${id}/start`)).status, 409);
    assert.equal((await newMachine()).body['nonce'], undefined, 'no lease_ttl, no nonce');
  });

  test('a bad ttl is a 400 naming the field; an unknown machine is a 404', async () => {
    const id = (await newMachine()).body['id'] as string;
    const bad = await lease(id, { ttl: 0 });
    assert.equal(bad.status, 400);
    assert.match(bad.body.error!, /'ttl' must be at least 1: got 0/);
    assert.equal((await lease('0123456789abcd')).status, 404);
  });

  test('of 50 parallel acquisitions over HTTP exactly one succeeds; the rest are 409', async () => {
    const id = (await newMachine()).body['id'] as string;
    const answers = await Promise.all(Array.from({ length: 50 }, () => lease(id)));
    assert.equal(answers.filter((a) => a.status === 200).length, 1);
    assert.equal(answers.filter((a) => a.status === 409).length, 49);
  });
});
