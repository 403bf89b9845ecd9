import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { isAloftError } from '../../lib/errors.ts';
import { ManualClock } from '../../lib/clock.ts';
import { machineEvent, type Machine, type MachineCheckStatus, type MachineConfig } from '../../model/index.ts';
import type { Store } from '../../store/index.ts';
import { openAgentTestStore, testMachine } from '../testing/fixtures.ts';
import { initialCheckStatuses } from './initial-statuses.ts';
import { waitForMachineHealthy, type WaitHealthyResult } from './wait-healthy.ts';

const withChecks: Partial<MachineConfig> = {
  checks: { alive: { type: 'tcp', port: 8080 } },
  services: [{ protocol: 'tcp', internal_port: 8080, checks: [{ type: 'http', path: '/health' }] }],
};
const NAMES = ['alive', 'servicecheck-00-http-8080'];

const status = (name: string, verdict: MachineCheckStatus['status']): MachineCheckStatus => ({ name, status: verdict, output: verdict, updatedAt: Date.now() });

describe('waitForMachineHealthy', () => {
  let store: Store;
  let clock: ManualClock;

  beforeEach(async () => {
    store = await openAgentTestStore();
    clock = new ManualClock(0);
  });
  afterEach(async () => {
    await store.close();
  });

  /** A Machine the API has asked to start (the agent is not running: the test writes what it would). */
  const starting = (config: Partial<MachineConfig> = withChecks): Promise<Machine> => store.createMachine(testMachine('starting', config));
  /** What the agent writes when the run starts: `started`, every check reset to warning. */
  const recordStarted = (m: Machine): Promise<Machine> =>
    store.updateMachine(m.id, { patch: { state: 'started', checks: initialCheckStatuses(m.config, Date.now()) }, events: [machineEvent('start', 'started', 'flyd')] });
  const setChecks = (m: Machine, ...verdicts: MachineCheckStatus['status'][]): Promise<Machine> =>
    store.updateMachine(m.id, { patch: { checks: verdicts.map((v, i) => status(NAMES[i]!, v)) }, expectState: ['started'] });

  test('resolves passing once every check passes in the current run, reporting each change', async () => {
    const m = await starting();
    const seen: string[] = [];
    const wait = waitForMachineHealthy(store, m.id, {
      instanceId: m.instanceId,
      timeoutMs: 60_000,
      clock,
      onUpdate: (u) => seen.push(`${u.state}:${(u.checks ?? []).map((c) => c.status).join(',')}`),
    });
    await recordStarted(m);
    await setChecks(m, 'passing', 'critical');
    await setChecks(m, 'passing', 'passing');
    const result = await wait;
    assert.equal(result.outcome, 'passing');
    assert.deepEqual(seen, ['starting:', 'started:warning,warning', 'started:passing,critical', 'started:passing,passing']);
  });

  test('a Machine without checks is healthy as soon as it is started', async () => {
    const m = await starting({});
    const wait = waitForMachineHealthy(store, m.id, { timeoutMs: 60_000, clock });
    await recordStarted(m);
    assert.equal((await wait).outcome, 'passing');
    // And at once when it already is.
    assert.equal((await waitForMachineHealthy(store, m.id, { timeoutMs: 60_000, clock })).outcome, 'passing');
  });

  test('statuses left from an earlier run do not count: the new run must pass again', async () => {
    const m = await starting();
    await recordStarted(m);
    await setChecks(m, 'passing', 'passing');
    await store.updateMachine(m.id, { patch: { state: 'restarting' } });
    const wait = waitForMachineHealthy(store, m.id, { instanceId: m.instanceId, timeoutMs: 60_000, clock });
    let settled = false;
    void wait.then(() => (settled = true));
    await recordStarted(m);
    await setChecks(m, 'passing', 'warning');
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(settled, false, 'not healthy while one check of this run is still waiting');
    await setChecks(m, 'passing', 'passing');
    assert.equal((await wait).outcome, 'passing');
  });

  test('a Machine that exits during its checks ends the wait at once with its exit code (flyctl#2653)', async () => {
    const m = await starting();
    const wait = waitForMachineHealthy(store, m.id, { instanceId: m.instanceId, timeoutMs: 300_000, clock });
    await recordStarted(m);
    await setChecks(m, 'passing', 'critical');
    await store.updateMachine(m.id, {
      patch: { state: 'stopped' },
      events: [machineEvent('exit', 'stopped', 'flyd', { exit_event: { exit_code: 3, signal: null, requested_stop: false, reason: 'process exited' } })],
    });
    // The clock never moves: the answer cannot have come from the timeout.
    const result = await wait;
    assert.equal(result.outcome, 'exited');
    assert.ok(result.outcome === 'exited');
    assert.equal(result.state, 'stopped');
    assert.equal(result.exitCode, 3);
    assert.equal(result.reason, 'process exited');
    assert.equal(result.logsHint, `aloft machine logs ${m.id} --app web`);
  });

  test('an exit its restart policy answers with a new start still ends the wait', async () => {
    const m = await starting();
    const wait = waitForMachineHealthy(store, m.id, { timeoutMs: 300_000, clock });
    await recordStarted(m);
    await store.updateMachine(m.id, {
      patch: { state: 'starting' },
      events: [
        machineEvent('exit', 'stopped', 'flyd', { exit_event: { exit_code: 1, signal: null, requested_stop: false, reason: 'process exited' } }),
        machineEvent('restart', 'requested', 'flyd', { attempt: 1 }),
      ],
    });
    const result = await wait;
    assert.ok(result.outcome === 'exited');
    assert.equal(result.state, 'starting');
    assert.equal(result.exitCode, 1);
  });

  test('a failed start, a destroy or a newer version end the wait', async () => {
    const failed = await starting();
    const waitFailed = waitForMachineHealthy(store, failed.id, { timeoutMs: 60_000, clock });
    await store.updateMachine(failed.id, { patch: { state: 'failed' }, events: [machineEvent('start', 'failed', 'flyd', { error: 'image not found' })] });
    const f = await waitFailed;
    assert.ok(f.outcome === 'exited');
    assert.deepEqual([f.state, f.exitCode, f.reason], ['failed', null, 'image not found']);

    const gone = await starting();
    const waitGone = waitForMachineHealthy(store, gone.id, { timeoutMs: 60_000, clock });
    await store.deleteMachine(gone.id);
    const g = await waitGone;
    assert.ok(g.outcome === 'exited');
    assert.equal(g.state, 'destroyed');

    const updated = await starting();
    const waitOld = waitForMachineHealthy(store, updated.id, { instanceId: updated.instanceId, timeoutMs: 60_000, clock });
    await store.updateMachine(updated.id, { patch: { instanceId: 'I2', state: 'updating' } });
    const u: WaitHealthyResult = await waitOld;
    assert.ok(u.outcome === 'exited');
    assert.equal(u.state, 'replaced');
  });

  test('times out after timeoutMs with the checks as they were', async () => {
    const m = await starting();
    const wait = waitForMachineHealthy(store, m.id, { timeoutMs: 30_000, clock });
    await recordStarted(m);
    await setChecks(m, 'passing', 'critical');
    clock.advance(29_999);
    await new Promise((resolve) => setImmediate(resolve));
    clock.advance(1);
    const result = await wait;
    assert.ok(result.outcome === 'timeout');
    assert.equal(result.state, 'started');
    assert.deepEqual(
      result.checks.map((c) => `${c.name}=${c.status}`),
      ['alive=passing', 'servicecheck-00-http-8080=critical'],
    );
  });

  test('an abort rejects with its reason; bad arguments are clear errors', async () => {
    const m = await starting();
    const controller = new AbortController();
    const wait = waitForMachineHealthy(store, m.id, { timeoutMs: 60_000, clock, signal: controller.signal });
    controller.abort(new Error('deploy cancelled'));
    await assert.rejects(wait, /deploy cancelled/);
    await assert.rejects(waitForMachineHealthy(store, m.id, { timeoutMs: 0 }), (err: unknown) => {
      assert.ok(isAloftError(err, 'INVALID_ARGUMENT'));
      assert.match(err.message, /Cannot wait for machine health as 'timeoutMs' must be a positive number of milliseconds: got 0/);
      return true;
    });
    await assert.rejects(waitForMachineHealthy(store, 'nope', { timeoutMs: 1000 }), (err: unknown) => isAloftError(err, 'MACHINE_NOT_FOUND'));
  });
});
