import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ManualClock } from '../../lib/clock.ts';
import { toRouteEntry, type RouteEntry } from '../route-entry.ts';
import { fakeMachine, startBackend } from '../testing/fixtures.ts';
import { healthChecksOf } from '../../health/index.ts';
import { HealthChecker, type Probe } from './health-checker.ts';

/** A route entry whose HTTP service at `port` has `checks` (Machines API shape). */
function entryWith(id: string, port: number, checks: NonNullable<Parameters<typeof healthChecksOf>[0]>['checks'], startedAt = 0): RouteEntry {
  const entry = toRouteEntry(fakeMachine('a', port, 'started', id), startedAt)!;
  return { ...entry, checks: healthChecksOf({ protocol: 'tcp', internal_port: port, checks }) };
}

/** Resolves with the next health change the checker reports. */
const nextChange = (checker: HealthChecker) =>
  new Promise<[string, boolean]>((resolve) => {
    const off = checker.onChange((id, healthy) => {
      off();
      resolve([id, healthy]);
    });
  });

test('a Machine is out of rotation until its checks pass, and follows a backend that flips', async () => {
  let status = 200;
  let hits = 0;
  const backend = await startBackend((_req, res) => {
    hits += 1;
    res.writeHead(status).end();
  });
  const clock = new ManualClock(0);
  const checker = new HealthChecker({ clock });
  try {
    checker.track(entryWith('m1', backend.port, [{ type: 'http', path: '/health', interval: '10s' }]));
    assert.equal(checker.isHealthy('m1'), false);
    let change = nextChange(checker);
    clock.advance(0);
    assert.deepEqual(await change, ['m1', true]);
    assert.equal(checker.isHealthy('m1'), true);

    status = 503;
    change = nextChange(checker);
    clock.advance(10_000);
    assert.deepEqual(await change, ['m1', false]);

    status = 200;
    change = nextChange(checker);
    clock.advance(10_000);
    assert.deepEqual(await change, ['m1', true]);
    assert.equal(hits, 3);

    // Tracking it again with the same checks changes nothing (no new probe, same state).
    checker.track(entryWith('m1', backend.port, [{ type: 'http', path: '/health', interval: '10s' }]));
    assert.equal(checker.isHealthy('m1'), true);
  } finally {
    checker.close();
    await backend.close();
  }
});

test('a Machine with no checks is healthy; every check must pass; tcp checks find a dead port', async () => {
  const backend = await startBackend((_req, res) => res.end());
  const clock = new ManualClock(0);
  const checker = new HealthChecker({ clock });
  try {
    checker.track(entryWith('plain', backend.port, []));
    assert.equal(checker.isHealthy('plain'), true);
    const dead = await startBackend();
    const deadPort = dead.port;
    await dead.close();
    checker.track(entryWith('m2', backend.port, [{ type: 'tcp' }, { type: 'tcp', port: deadPort }]));
    // Both probes run; the dead port keeps it out, so no change is ever reported.
    let changes = 0;
    checker.onChange(() => void (changes += 1));
    clock.advance(0);
    while (checker.inFlight > 0) await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    assert.equal(checker.isHealthy('m2'), false);
    assert.equal(changes, 0);
  } finally {
    checker.close();
    await backend.close();
  }
});

test('checks wait for the grace period counted from the start', async () => {
  let hits = 0;
  const backend = await startBackend((_req, res) => {
    hits += 1;
    res.end();
  });
  const clock = new ManualClock(1000);
  const checker = new HealthChecker({ clock });
  try {
    // Started 1 s ago with a 3 s grace: the first probe is due in 2 s.
    checker.track(entryWith('m1', backend.port, [{ type: 'http', grace_period: '3s' }], 0));
    clock.advance(1999);
    await new Promise((r) => setImmediate(r));
    assert.equal(hits, 0);
    const change = nextChange(checker);
    clock.advance(1);
    assert.deepEqual(await change, ['m1', true]);
    assert.equal(hits, 1);
  } finally {
    checker.close();
    await backend.close();
  }
});

test('at most maxConcurrent probes run at once; untrack and close stop timers and probes', async () => {
  const clock = new ManualClock(0);
  const held: { host: string; signal: AbortSignal; pass: () => void }[] = [];
  const probe: Probe = (host, _check, signal) =>
    new Promise((resolve) => {
      const entry = { host, signal, pass: () => resolve({ ok: true, detail: '' }) };
      held.push(entry);
      signal.addEventListener('abort', () => resolve({ ok: false, detail: 'aborted' }));
    });
  const checker = new HealthChecker({ clock, probe, maxConcurrent: 2 });
  for (let i = 1; i <= 5; i += 1) checker.track(entryWith(`m${i}`, 3000, [{ type: 'tcp', interval: '1s' }]));
  clock.advance(0);
  await new Promise((r) => setImmediate(r));
  assert.equal(held.length, 2);
  assert.equal(checker.inFlight, 2);
  // Finishing one lets exactly one waiting probe start.
  const change = nextChange(checker);
  held[0]!.pass();
  assert.deepEqual(await change, ['m1', true]);
  await new Promise((r) => setImmediate(r));
  assert.equal(held.length, 3);
  assert.equal(checker.inFlight, 2);

  // m1's next probe is due in 1 s; untracked, it never runs.
  checker.untrack('m1');
  assert.equal(checker.isHealthy('m1'), true);
  clock.advance(1000);
  await new Promise((r) => setImmediate(r));
  assert.equal(held.length, 3);

  // close() aborts the probes in flight and lets the queued ones run out without probing.
  checker.close();
  assert.ok(held.slice(1).every((h) => h.signal.aborted));
  await new Promise((r) => setImmediate(r));
  assert.equal(held.length, 3);
  assert.equal(checker.inFlight, 0);
  checker.track(entryWith('late', 3000, [{ type: 'tcp' }]));
  clock.advance(0);
  assert.equal(held.length, 3);
});
