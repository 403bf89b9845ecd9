import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { HostDirectory } from '../../src/cluster/host-directory.ts';
import { DEFAULT_HEARTBEAT_INTERVAL_MS } from '../../src/cluster/host-heartbeat.ts';
import { HostMonitor } from '../../src/cluster/host-monitor.ts';
import { Scheduler } from '../../src/scheduler/index.ts';
import { openSqliteStore, type Store } from '../../src/store/index.ts';
import type { HostRecord } from '../../src/store/host-store.ts';
import { startTestPlatform } from './platform-process.ts';

/** Reads the host registry until `ok` holds for the platform's one host (heartbeats are not in the change log to watch). */
async function hostWhen(store: Store, ok: (host: HostRecord) => boolean, timeoutMs: number): Promise<HostRecord> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const [host] = await store.listHosts();
    if (host !== undefined && ok(host)) return host;
    if (Date.now() > deadline) assert.fail(`the platform's host never got there: ${JSON.stringify(host)}`);
    await delay(100);
  }
}

// `aloft up` registers its one host as a cluster's agent does; without beats, an `aloft api`
// pointed at the same store would take it for dead and move its Machines away.
test('aloft up beats for its host, so a HostMonitor on its store never marks it down, and stops beating cleanly', { timeout: 120_000, skip: process.getuid?.() !== 0 && 'needs root (aloft up)' }, async () => {
  const harness = await startTestPlatform('hbeat');
  const store = await openSqliteStore({ path: join(harness.dataDir, 'aloft.db') });
  const directory = new HostDirectory(store);
  try {
    const registered = await hostWhen(store, () => true, 10_000);
    assert.equal(registered.status, 'up');
    // Two beats later more time has passed than a monitor allowing one missed beat waits.
    const beaten = await hostWhen(store, (h) => h.heartbeatAt >= registered.registeredAt + 2 * DEFAULT_HEARTBEAT_INTERVAL_MS - 500, 4 * DEFAULT_HEARTBEAT_INTERVAL_MS + 5000);
    assert.ok(Date.now() - beaten.registeredAt > DEFAULT_HEARTBEAT_INTERVAL_MS, 'a host that only registered would be judged dead by now');
    await directory.start();
    const monitor = new HostMonitor({ store, scheduler: new Scheduler(directory, { capacity: directory.capacity }), heartbeatIntervalMs: DEFAULT_HEARTBEAT_INTERVAL_MS, missedHeartbeats: 1 });
    const sweep = await monitor.sweep();
    await monitor.stop();
    assert.equal(sweep.acting, true);
    assert.deepEqual(sweep.markedDown, []);
    assert.equal((await store.getHost(beaten.id))?.status, 'up');
    // A clean stop: the heartbeat ends before the store closes, so no beat fails on the way out.
    assert.equal(await harness.platform.stop('SIGTERM'), 0);
    assert.doesNotMatch(harness.platform.output, /heartbeat failed|cleanup failed/);
  } finally {
    directory.stop();
    await store.close();
    await harness.close();
  }
});
