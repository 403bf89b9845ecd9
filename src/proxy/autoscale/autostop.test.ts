import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { send } from '../testing/client.ts';
import { startBackend, type Backend } from '../testing/fixtures.ts';
import { ManualClock } from '../../lib/clock.ts';
import { Autostopper, type AutostopEvent } from './autostop.ts';
import { startAutoscaleWorld, type AutoscaleWorld } from './testing.ts';

const backends: Backend[] = [];
const backend = async (handler?: Parameters<typeof startBackend>[0]): Promise<Backend> => {
  const b = await startBackend(handler);
  backends.push(b);
  return b;
};
after(async () => {
  for (const b of backends) await b.close();
});

/**
 * An autostopper on the world's proxy whose passes the test runs itself. Its clock is a
 * minute ahead, so every Machine has been idle for more than its 1 s interval.
 */
function stopperOf(world: AutoscaleWorld): { stopper: Autostopper; events: AutostopEvent[]; pass(): Promise<void> } {
  const stopper = new Autostopper({
    store: world.store,
    table: world.proxy.table,
    loads: world.proxy.balancer.loads,
    closeOrigin: (o) => world.proxy.pools.closeOrigin(o),
    intervalMs: 1000,
    drainMs: 2000,
    clock: new ManualClock(Date.now() + 60_000),
  });
  const events: AutostopEvent[] = [];
  stopper.onEvent((e) => events.push(e));
  return {
    stopper,
    events,
    async pass() {
      await stopper.runOnce();
      await world.settled();
    },
  };
}

test('two idle Machines: one pass stops one (event from the proxy), the next stops the last', async () => {
  const world = await startAutoscaleWorld();
  try {
    const port = (await backend()).port;
    const a = await world.machine(port, 'started');
    const b = await world.machine(port, 'started');
    const { pass, events, stopper } = stopperOf(world);
    await pass();
    assert.equal(events.length, 1);
    assert.equal(events[0]?.action, 'stop');
    const first = events[0]!.machineId;
    assert.deepEqual(await world.proxyEvents(first), ['stop:requested']);
    // Once the agent stand-in wrote `stopped`, the other one still runs.
    await new Promise<void>((resolve) => {
      const off = world.proxy.table.onChange(() => {
        if (world.proxy.table.stateOf(first) === 'stopped') {
          off();
          resolve();
        }
      });
      if (world.proxy.table.stateOf(first) === 'stopped') {
        off();
        resolve();
      }
    });
    const second = first === a.id ? b.id : a.id;
    assert.equal((await world.store.getMachine(second))?.state, 'started');
    await pass();
    assert.equal(events.length, 2, 'a single idle Machine has excess 1: it is stopped too (min_machines_running 0)');
    assert.notEqual(events[1]?.machineId, first);
    await stopper.close();
  } finally {
    await world.close();
  }
});

test('min_machines_running is kept per region', async () => {
  const world = await startAutoscaleWorld();
  try {
    const port = (await backend()).port;
    const service = { min_machines_running: 1 };
    await world.machine(port, 'started', { region: 'ams', service });
    await world.machine(port, 'started', { region: 'ams', service });
    const iad = await world.machine(port, 'started', { region: 'iad', service });
    const { pass, events } = stopperOf(world);
    await pass();
    await pass();
    assert.equal(events.length, 1, 'one of ams’ two is stopped, ams keeps one');
    assert.equal(events[0]?.region, 'ams');
    assert.equal((await world.store.getMachine(iad.id))?.state, 'started', 'iad’s only Machine is kept: the minimum holds in every region');
  } finally {
    await world.close();
  }
});

test('autostop "suspend" writes the suspend intent; "off" and a loaded Machine are left alone', async () => {
  const world = await startAutoscaleWorld();
  try {
    const port = (await backend()).port;
    const off = await world.machine(port, 'started', { region: 'ams', service: { autostop: 'off' } });
    const suspend = await world.machine(port, 'started', { region: 'fra', service: { autostop: 'suspend' } });
    const { pass, events } = stopperOf(world);
    await pass();
    assert.deepEqual(events.map((e) => [e.machineId, e.action]), [[suspend.id, 'suspend']]);
    assert.deepEqual(await world.proxyEvents(suspend.id), ['suspend:requested']);
    assert.equal((await world.store.getMachine(off.id))?.state, 'started');
  } finally {
    await world.close();
  }
});

test('a Machine that answers 423 on its busy path is kept running', async () => {
  const world = await startAutoscaleWorld();
  try {
    let busy = true;
    const b = await backend((req, res) => {
      if (req.url === '/busy') res.writeHead(busy ? 423 : 200).end();
      else res.end('ok');
    });
    const m = await world.machine(b.port, 'started', { service: { autostop_busy_path: '/busy' } as never });
    const { pass, events } = stopperOf(world);
    await pass();
    assert.deepEqual(events.map((e) => e.action), ['busy']);
    assert.equal((await world.store.getMachine(m.id))?.state, 'started');
    busy = false;
    await pass();
    assert.deepEqual(events.map((e) => e.action), ['busy', 'stop']);
  } finally {
    await world.close();
  }
});

test('drain: no new requests reach the Machine, its request in flight finishes, pooled connections close, then the stop', async () => {
  const world = await startAutoscaleWorld();
  try {
    let release: (() => void) | undefined;
    const hooks: { onBusyAsked?: () => Promise<void> } = {};
    const slow = await backend((req, res) => {
      if (req.url === '/slow') release = () => res.end('slow done');
      else if (req.url === '/busy') void (hooks.onBusyAsked ?? (() => Promise.resolve()))().then(() => res.writeHead(200).end());
      else res.end('fast');
    });
    const other = await backend((_req, res) => res.end('other'));
    const limits = { concurrency: { type: 'requests' as const, soft_limit: 100, hard_limit: 100 } };
    const draining = await world.machine(slow.port, 'started', { service: { ...limits, autostop_busy_path: '/busy' } as never });
    await world.machine(other.port, 'started', { service: { ...limits, autostop: 'off' } });
    const forced = ['fly-force-instance-id', draining.id];
    // Warm a pooled proxy→Machine connection.
    assert.equal((await send(world.port, { host: 'auto.localhost', headers: forced })).text, 'fast');
    const origin = `http://127.0.0.1:${slow.port}`;
    assert.ok(world.proxy.pools.has(origin));
    // A request arrives between the choice (the Machine was idle) and the drain: it must finish first.
    let inFlight: Promise<{ text: string }> | undefined;
    hooks.onBusyAsked = async () => {
      inFlight = send(world.port, { host: 'auto.localhost', path: '/slow', headers: forced });
      while (release === undefined) await new Promise((r) => setImmediate(r));
    };
    const { stopper, events } = stopperOf(world);
    const passing = stopper.runOnce();
    while (!world.proxy.table.isDraining(draining.id)) await new Promise((r) => setImmediate(r));
    // Draining: out of the table; new requests go to the other Machine.
    for (let i = 0; i < 5; i++) assert.equal((await send(world.port, { host: 'auto.localhost' })).text, 'other');
    assert.equal(events.length, 0, 'not stopped while its request is in flight');
    release!();
    assert.equal((await inFlight!).text, 'slow done');
    await passing;
    assert.deepEqual(events.map((e) => [e.machineId, e.action]), [[draining.id, 'stop']]);
    assert.equal(world.proxy.pools.has(origin), false, 'the pool to the Machine is closed');
    const open = await new Promise<number>((r) => slow.server.getConnections((_e, n) => r(n)));
    assert.equal(open, 0, 'no proxy connection to the Machine is left open');
  } finally {
    await world.close();
  }
});

test('the interval timer runs passes by itself; the next request autostarts the stopped Machine', async () => {
  const world = await startAutoscaleWorld({ autostopIntervalMs: 20 });
  try {
    const m = await world.machine((await backend()).port, 'started');
    const stopped = new Promise<void>((resolve) => world.proxy.autostopper!.onEvent((e) => e.machineId === m.id && resolve()));
    await stopped;
    await world.settled();
    assert.deepEqual(await world.proxyEvents(m.id), ['stop:requested']);
    const response = await send(world.port, { host: 'auto.localhost' });
    assert.equal(response.status, 200);
    assert.deepEqual(await world.proxyEvents(m.id), ['stop:requested', 'start:requested']);
  } finally {
    await world.close();
  }
});
