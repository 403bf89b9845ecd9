import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { machineEvent, type MachineState } from '../model/index.ts';
import type { Store } from '../store/index.ts';
import { Agent } from './agent.ts';
import { MachineLogs } from './logs/index.ts';
import type { AgentImages } from './ports.ts';
import { FakeDriver, FakeWorld } from './testing/fake-driver.ts';
import { fakeNetwork, openAgentTestStore, reachState, TEST_HOST, testMachine } from './testing/fixtures.ts';

describe('Agent: machine logs', () => {
  let store: Store;
  let world: FakeWorld;
  let dataDir: string;
  let agents: Agent[];
  let logs: MachineLogs[];

  const images: AgentImages = {
    imageConfig: async () => ({ entrypoint: ['/bin/app'], cmd: [], env: [], workingDir: '/', user: '', exposedPorts: [] }),
    unpack: async () => join(dataDir, 'image-root'),
    prepareRootfs: async (_root, machineDir) => {
      await mkdir(join(machineDir, 'rootfs'), { recursive: true });
      return join(machineDir, 'rootfs');
    },
    releaseRootfs: async () => undefined,
  };

  /** An agent with its own MachineLogs (a fresh one, as after a restart of the whole process). */
  const newAgent = async (): Promise<{ agent: Agent; logs: MachineLogs }> => {
    const machineLogs = new MachineLogs({ pollMs: 50 });
    logs.push(machineLogs);
    const agent = new Agent({ host: TEST_HOST, store, driver: new FakeDriver(world), network: fakeNetwork, images, dataDir, logs: machineLogs });
    agents.push(agent);
    await agent.start();
    await agent.idle();
    return { agent, logs: machineLogs };
  };

  const request = (id: string, from: MachineState[], to: MachineState) =>
    store.updateMachine(id, { patch: { state: to }, expectState: from, events: [machineEvent(to === 'starting' ? 'start' : to === 'stopping' ? 'stop' : 'destroy', 'requested', 'user')] });

  /** The machine's process prints `text` (a child appending to the log file its run spec names); resolves once the line is read. */
  const prints = async (machineLogs: MachineLogs, id: string, text: string): Promise<void> => {
    const read = new Promise<void>((resolve) => {
      const unsubscribe = machineLogs.subscribe(id, (line) => {
        if (line.message === text) {
          unsubscribe();
          resolve();
        }
      });
    });
    const child = spawn('sh', ['-c', 'echo "$1" >> "$2"', 'sh', text, world.sandboxes.get(id)!.spec.logPath], { stdio: 'ignore' });
    assert.deepEqual(await once(child, 'exit'), [0, null]);
    await read;
  };

  beforeEach(async () => {
    store = await openAgentTestStore();
    world = new FakeWorld();
    dataDir = await mkdtemp(join(tmpdir(), 'aloft-agent-logs-'));
    agents = [];
    logs = [];
  });
  afterEach(async () => {
    for (const agent of agents) await agent.stop({ stopMachines: false });
    for (const machineLogs of logs) await machineLogs.close();
    await store.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  test('follows a started machine, adopts it after a restart, stops at stop and forgets at destroy', async () => {
    const first = await newAgent();
    const m = await store.createMachine(testMachine('created'));
    await request(m.id, ['created'], 'starting');
    await reachState(store, m.id, 'started');
    assert.ok(first.logs.isFollowing(m.id));
    await prints(first.logs, m.id, 'hello from the first run');
    assert.deepEqual(first.logs.tail(m.id).map((l) => [l.machine_id, l.message]), [[m.id, 'hello from the first run']]);

    // A new agent process: its MachineLogs adopts the running machine's file from its end.
    await first.agent.stop({ stopMachines: false });
    await first.logs.close();
    const second = await newAgent();
    assert.ok(second.logs.isFollowing(m.id));
    await prints(second.logs, m.id, 'after the restart');
    assert.deepEqual(second.logs.tail(m.id).map((l) => l.message), ['after the restart']);

    await request(m.id, ['started'], 'stopping');
    await reachState(store, m.id, 'stopped');
    assert.equal(second.logs.isFollowing(m.id), false);
    assert.deepEqual(second.logs.tail(m.id).map((l) => l.message), ['after the restart'], 'a stopped machine keeps its lines');

    await request(m.id, ['stopped'], 'destroying');
    await reachState(store, m.id, 'destroyed');
    assert.deepEqual(second.logs.tail(m.id), [], 'a destroyed machine leaves nothing behind');
  });

  test('an exit it did not ask for stops following; the next start follows again', async () => {
    const { logs: machineLogs } = await newAgent();
    const m = await store.createMachine(testMachine('created', { restart: { policy: 'no' } }));
    await request(m.id, ['created'], 'starting');
    await reachState(store, m.id, 'started');
    await prints(machineLogs, m.id, 'working');
    world.exit(m.id, { exitCode: 0, signal: null });
    await reachState(store, m.id, 'stopped');
    assert.equal(machineLogs.isFollowing(m.id), false);
    await request(m.id, ['stopped'], 'starting');
    await reachState(store, m.id, 'started');
    assert.ok(machineLogs.isFollowing(m.id));
    await prints(machineLogs, m.id, 'second run');
    assert.deepEqual(machineLogs.tail(m.id).map((l) => l.message), ['working', 'second run']);
  });
});
