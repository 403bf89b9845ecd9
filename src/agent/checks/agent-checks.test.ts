import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { machineEvent, type Machine, type MachineState } from '../../model/index.ts';
import type { Store } from '../../store/index.ts';
import { Agent } from '../agent.ts';
import type { AgentImages } from '../ports.ts';
import { FakeDriver, FakeWorld } from '../testing/fake-driver.ts';
import { fakeNetwork, openAgentTestStore, TEST_HOST, testMachine } from '../testing/fixtures.ts';
import { waitForMachineHealthy } from './wait-healthy.ts';

/**
 * The agent with its check runner: the runtime is the fake driver, but the checks are
 * real probes of a server on loopback (the Machine's "address" is 127.0.0.1), so this
 * shows the agent's side: statuses reset with every `started` it records, then written
 * as the probes answer, and waitForMachineHealthy following them.
 */
describe('Agent: Machine health checks', () => {
  let store: Store;
  let dataDir: string;
  let agent: Agent;
  let server: Server;
  let port: number;
  let health = 200;

  const images: AgentImages = {
    imageConfig: async () => ({ entrypoint: ['/bin/app'], cmd: [], env: [], workingDir: '/', user: '', exposedPorts: [] }),
    unpack: async () => join(dataDir, 'image-root'),
    prepareRootfs: async (_root, machineDir) => {
      await mkdir(join(machineDir, 'rootfs'), { recursive: true });
      return join(machineDir, 'rootfs');
    },
    releaseRootfs: async () => undefined,
  };

  /** Every write of the Machine, as "state:status,status…", in order. */
  const record = (id: string): string[] => {
    const seen: string[] = [];
    store.watch((c) => {
      if (c.kind === 'machine' && c.op === 'put' && c.key === id) seen.push(`${c.machine.state}:${(c.machine.checks ?? []).map((s) => s.status).join(',')}`);
    });
    return seen;
  };

  const intend = (id: string, from: MachineState, to: MachineState, type: string, patch: Partial<Machine> = {}) =>
    store.updateMachine(id, { patch: { ...patch, state: to }, expectState: [from], events: [machineEvent(type, 'requested', 'user')] });

  beforeEach(async () => {
    store = await openAgentTestStore();
    dataDir = await mkdtemp(join(tmpdir(), 'aloft-agent-checks-'));
    health = 200;
    server = createServer((_req, res) => res.writeHead(health).end());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
    agent = new Agent({ host: TEST_HOST, store, driver: new FakeDriver(new FakeWorld()), network: fakeNetwork, images, dataDir });
    await agent.start();
  });
  afterEach(async () => {
    await agent.stop({ stopMachines: false });
    await store.close();
    await rm(dataDir, { recursive: true, force: true });
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  test('a started Machine is healthy once its checks pass; a restart resets them in the `started` write', async () => {
    const created = testMachine('created', { services: [{ protocol: 'tcp', internal_port: port, checks: [{ type: 'http', path: '/' }] }] }, { ipv4: '127.0.0.1', ipv6: '' });
    const m = await store.createMachine(created);
    const writes = record(m.id);
    await intend(m.id, 'created', 'starting', 'start');
    const first = await waitForMachineHealthy(store, m.id, { instanceId: m.instanceId, timeoutMs: 30_000 });
    assert.equal(first.outcome, 'passing');

    await intend(m.id, 'started', 'restarting', 'restart');
    const second = await waitForMachineHealthy(store, m.id, { instanceId: m.instanceId, timeoutMs: 30_000 });
    assert.equal(second.outcome, 'passing');
    assert.deepEqual(writes, [
      'starting:',
      'started:warning',
      'started:passing',
      'restarting:passing',
      'started:warning',
      'started:passing',
    ]);
  });

  test('an update whose new run fails its checks times out with them critical', async () => {
    const m = await store.createMachine(testMachine('created', {}, { ipv4: '127.0.0.1', ipv6: '' }));
    await intend(m.id, 'created', 'starting', 'start');
    health = 503;
    const config = { ...m.config, services: [{ protocol: 'tcp' as const, internal_port: port, checks: [{ type: 'http' as const, path: '/', interval: '1s' }] }] };
    await store.updateMachine(m.id, { patch: { state: 'updating', instanceId: 'I2', config }, expectState: ['started', 'starting'] });
    const result = await waitForMachineHealthy(store, m.id, { instanceId: 'I2', timeoutMs: 1_500 });
    assert.ok(result.outcome === 'timeout');
    assert.deepEqual(
      result.checks.map((c) => [c.status, c.output]),
      [['critical', '503 Service Unavailable']],
    );
  });
});
