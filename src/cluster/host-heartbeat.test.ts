import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ManualClock } from '../lib/clock.ts';
import { sampleHostRegistration } from '../store/host-samples.ts';
import { openSqliteStore } from '../store/index.ts';
import { HostHeartbeat } from './host-heartbeat.ts';

const T0 = 1_700_000_000_000;

test('an agent registers, beats each interval, and registers again once marked down', async () => {
  const store = await openSqliteStore({ path: ':memory:' });
  const clock = new ManualClock(T0);
  const registration = sampleHostRegistration({ id: 'h1' });
  let registrations = 0;
  const heartbeat = new HostHeartbeat({ store, hostId: 'h1', intervalMs: 1000, clock, registration: () => (registrations++, Promise.resolve(registration)) });
  try {
    assert.equal((await heartbeat.start()).status, 'up');
    assert.equal(registrations, 1);
    clock.advance(1000);
    await heartbeat.beat(); // the timer's beat is queued before this one: both are done after it
    assert.equal((await store.getHost('h1'))?.heartbeatAt, T0 + 1000);
    assert.equal(registrations, 1, 'a beat does not re-measure the host');

    await store.markHostDown('h1', { reason: 'missed', expectHeartbeatAt: T0 + 1000 });
    clock.advance(1000);
    await heartbeat.beat();
    const back = await store.getHost('h1');
    assert.equal(back?.status, 'up');
    assert.equal(back?.registeredAt, T0 + 2000);
    assert.equal(registrations, 2);
  } finally {
    await heartbeat.stop();
    await store.close();
  }
});
