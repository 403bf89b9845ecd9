import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { probe } from '../../health/index.ts';
import { ManualClock } from '../../lib/clock.ts';
import { freePort } from '../../lib/testing/free-port.ts';
import type { Machine, MachineConfig } from '../../model/index.ts';
import type { Store } from '../../store/index.ts';
import { openAgentTestStore, TEST_HOST, testMachine } from '../testing/fixtures.ts';
import { CheckRunner } from './check-runner.ts';
import { initialCheckStatuses } from './initial-statuses.ts';
import type { CheckProbe } from './machine-checks-run.ts';

const LOOPBACK = { ipv4: '127.0.0.1', ipv6: '' };

/** "name=status" for each check, in order. */
const verdicts = (m: Machine): string[] => (m.checks ?? []).map((c) => `${c.name}=${c.status}`);

describe('CheckRunner (real probes on loopback)', () => {
  let store: Store;
  let clock: ManualClock;
  let server: Server;
  let port: number;
  let health = 200;
  let runner: CheckRunner;
  /** Probes begun and finished, counted by a wrapper round the real probe. */
  let begun = 0;
  let finished = 0;
  let onFinished: (() => void) | undefined;

  const countingProbe: CheckProbe = async (host, check, signal, outputBytes) => {
    begun += 1;
    try {
      return await probe(host, check, signal, outputBytes);
    } finally {
      finished += 1;
      onFinished?.();
    }
  };

  /** Resolves once `n` probes in all have finished. */
  const probesFinished = (n: number): Promise<void> =>
    new Promise((resolve) => {
      onFinished = () => {
        if (finished >= n) resolve();
      };
      onFinished();
    });

  /** Resolves with the Machine once its record satisfies `pred` (now or at a later write), through the watch. */
  const until = (id: string, pred: (m: Machine) => boolean): Promise<Machine> =>
    new Promise((resolve) => {
      const stop = store.watch((c) => {
        if (c.kind === 'machine' && c.op === 'put' && c.key === id && pred(c.machine)) {
          stop();
          resolve(c.machine);
        }
      });
      void store.getMachine(id).then((m) => {
        if (m && pred(m)) {
          stop();
          resolve(m);
        }
      });
    });

  /** A started Machine as the agent records it: statuses reset for the run. */
  const startedMachine = (config: Partial<MachineConfig>): Promise<Machine> => {
    const m = testMachine('started', config, LOOPBACK);
    return store.createMachine({ ...m, checks: initialCheckStatuses(m.config, 0) });
  };

  beforeEach(async () => {
    store = await openAgentTestStore();
    clock = new ManualClock(0);
    health = 200;
    begun = 0;
    finished = 0;
    onFinished = undefined;
    server = createServer((req, res) => {
      if (req.url === '/moved') res.writeHead(302, { location: '/health' }).end();
      else res.writeHead(health).end(health === 200 ? 'ok' : 'down');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
    runner = new CheckRunner({ store, hostId: TEST_HOST.id, clock, probe: countingProbe });
    await runner.start();
  });
  afterEach(async () => {
    await runner.stop();
    await store.close();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  test('2xx passes, a redirect and a closed port are critical; a status is written only when it changes', async () => {
    const closed = await freePort();
    const m = await startedMachine({
      checks: { alive: { type: 'tcp', port }, dead: { type: 'tcp', port: closed } },
      services: [{ protocol: 'tcp', internal_port: port, checks: [{ type: 'http', path: '/health', interval: '10s' }, { type: 'http', path: '/moved', interval: '10s' }] }],
    });
    const names = [`alive`, 'dead', `servicecheck-00-http-${port}`, `servicecheck-01-http-${port}`];
    assert.deepEqual(verdicts(m), names.map((n) => `${n}=warning`));
    clock.advance(0);
    const settled = await until(m.id, (x) => !verdicts(x).some((v) => v.endsWith('=warning')));
    assert.deepEqual(verdicts(settled), [`alive=passing`, 'dead=critical', `${names[2]}=passing`, `${names[3]}=critical`]);
    const outputs = Object.fromEntries((settled.checks ?? []).map((c) => [c.name, c.output]));
    assert.equal(outputs['alive'], 'Success');
    assert.equal(outputs['dead'], 'ECONNREFUSED');
    assert.equal(outputs[names[2]!], '200 OK: ok');
    assert.equal(outputs[names[3]!], '302 Found');

    // A whole interval of the same verdicts writes nothing: the next write is the flip.
    await probesFinished(4);
    const steady = (await store.getMachine(m.id))!;
    clock.advance(15_000);
    await probesFinished(8);
    health = 500;
    clock.advance(10_000);
    const flipped = await until(m.id, (x) => verdicts(x)[2] === `${names[2]}=critical`);
    assert.equal(flipped.version, steady.version + 1, 'no write between the settled statuses and the flip');
    assert.equal(flipped.checks![2]!.output, '500 Internal Server Error: down');
    assert.equal(flipped.checks![2]!.updatedAt, 25_000);
    assert.deepEqual(verdicts(flipped).filter((_, i) => i !== 2), verdicts(settled).filter((_, i) => i !== 2));
  });

  test('regression: a failing check that fails for another reason (refused, then 404) shows the new reason; the same reason writes nothing', async () => {
    health = 404;
    const m = await startedMachine({ services: [{ protocol: 'tcp', internal_port: port, checks: [{ type: 'http', path: '/health', interval: '10s' }] }] });
    clock.advance(0);
    const first = await until(m.id, (x) => verdicts(x)[0]?.endsWith('=critical') === true);
    assert.equal(first.checks![0]!.output, '404 Not Found: down');
    // A probe counts as finished just before the run schedules the next one: let it.
    const scheduled = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
    await probesFinished(1);
    await scheduled();
    // The same reason again: no write.
    clock.advance(10_000);
    await probesFinished(2);
    await scheduled();
    assert.equal((await store.getMachine(m.id))!.version, first.version);
    // Another reason, still critical: written.
    health = 503;
    clock.advance(10_000);
    const second = await until(m.id, (x) => x.checks?.[0]?.output.startsWith('503') === true);
    assert.equal(second.checks![0]!.status, 'critical');
    assert.equal(second.version, first.version + 1);
  });

  test("the grace period delays a check's first probe, counted from the start", async () => {
    await startedMachine({ checks: { slow: { type: 'tcp', port, grace_period: '30s', interval: '10s' } } });
    clock.advance(29_999);
    assert.equal(begun, 0);
    clock.advance(1);
    assert.equal(begun, 1);
  });

  test('checks stop when the Machine leaves started and start afresh for its next run', async () => {
    const m = await startedMachine({ services: [{ protocol: 'tcp', internal_port: port, checks: [{ type: 'http', path: '/health', interval: '10s' }] }] });
    clock.advance(0);
    await until(m.id, (x) => verdicts(x)[0]?.endsWith('=passing') === true);
    // Stopping: the runner hears it (its watch was registered first) before this test's watch does.
    await store.updateMachine(m.id, { patch: { state: 'stopping' } });
    await until(m.id, (x) => x.state === 'stopping');
    assert.deepEqual(runner.checking, []);
    const before = begun;
    clock.advance(60_000);
    assert.equal(begun, before, 'no probe of a Machine that is not started');

    // The next run (an update: new instance), reset by the agent as it records `started`.
    health = 500;
    await store.updateMachine(m.id, { patch: { state: 'stopped' } });
    await store.updateMachine(m.id, { patch: { state: 'started', instanceId: 'I2', checks: initialCheckStatuses(m.config, clock.now()) } });
    await until(m.id, (x) => x.instanceId === 'I2');
    assert.deepEqual(runner.checking, [m.id]);
    clock.advance(0);
    const failing = await until(m.id, (x) => verdicts(x)[0]?.endsWith('=critical') === true);
    assert.equal(failing.state, 'started');
  });

  test('Machines of other hosts, or with no checks, are not checked; a record without statuses gets them at once', async () => {
    const other = testMachine('started', { checks: { a: { type: 'tcp', port } } }, LOOPBACK);
    await store.createMachine({ ...other, hostId: 'another-host' });
    const plain = await store.createMachine(testMachine('started', {}, LOOPBACK));
    // Started by an agent that did not reset statuses (none stored): written as warning first.
    const bare = await store.createMachine(testMachine('started', { checks: { a: { type: 'tcp', port } } }, LOOPBACK));
    const reset = await until(bare.id, (x) => x.checks !== undefined);
    assert.deepEqual(verdicts(reset), ['a=warning']);
    assert.deepEqual(runner.checking, [bare.id]);
    assert.equal((await store.getMachine(plain.id))!.checks, undefined);
  });
});
