import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { machineEvent, type Machine, type MachineState } from '../model/index.ts';
import type { Store } from '../store/index.ts';
import { Agent } from './agent.ts';
import type { AgentImages } from './ports.ts';
import { FakeDriver, FakeWorld } from './testing/fake-driver.ts';
import { fakeNetwork, openAgentTestStore, reachState, TEST_HOST, testMachine } from './testing/fixtures.ts';


/** The agent carrying out the machine operations' intents: restarting, updating, suspending. */
describe('Agent: restart, update, suspend', () => {
  let store: Store;
  let world: FakeWorld;
  let dataDir: string;
  let agents: Agent[];

  const images: AgentImages = {
    imageConfig: async () => ({ entrypoint: ['/bin/app'], cmd: [], env: ['PATH=/bin'], workingDir: '/', user: '', exposedPorts: [] }),
    unpack: async () => join(dataDir, 'image-root'),
    prepareRootfs: async (_root, machineDir) => {
      await mkdir(join(machineDir, 'rootfs'), { recursive: true });
      return join(machineDir, 'rootfs');
    },
    releaseRootfs: async () => undefined,
  };

  const newAgent = async (): Promise<Agent> => {
    const agent = new Agent({ host: TEST_HOST, store, driver: new FakeDriver(world), network: fakeNetwork, images, dataDir });
    agents.push(agent);
    await agent.start();
    return agent;
  };

  const reach = (id: string, state: MachineState): Promise<Machine> => reachState(store, id, state);

  const startedMachine = async (): Promise<Machine> => {
    const machine = await store.createMachine(testMachine('starting', { env: { V: '1' } }, { ipv6: 'fdaa::2', ipv4: '172.19.0.2' }));
    return reach(machine.id, 'started');
  };

  const intend = (id: string, from: MachineState, to: MachineState, type: string, patch: Partial<Machine> = {}, request?: Record<string, unknown>) =>
    store.updateMachine(id, { patch: { ...patch, state: to }, expectState: [from], events: [machineEvent(type, 'requested', 'user', request)] });

  beforeEach(async () => {
    store = await openAgentTestStore();
    world = new FakeWorld();
    dataDir = await mkdtemp(join(tmpdir(), 'aloft-agent-ops-'));
    agents = [];
  });
  afterEach(async () => {
    for (const agent of agents) await agent.stop({ stopMachines: false });
    await store.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  test('restarting: stops with the restart request’s signal, starts again, records started', async () => {
    const agent = await newAgent();
    const m = await startedMachine();
    await intend(m.id, 'started', 'restarting', 'restart', {}, { signal: 'SIGTERM', timeout: '2s' });
    await reach(m.id, 'started');
    await agent.idle();
    assert.deepEqual(world.starts, [m.id, m.id]);
    const events = (await store.listEvents(m.id)).map((e) => `${e.type}:${e.status}:${e.source}`);
    assert.deepEqual(events.slice(0, 3), ['start:started:flyd', 'exit:stopped:flyd', 'restart:requested:user']);
    const exit = (await store.listEvents(m.id))[1]!;
    assert.equal((exit.request?.['exit_event'] as { signal: string }).signal, 'SIGTERM');
  });

  test('updating: the new config runs; the old run is gone', async () => {
    const agent = await newAgent();
    const m = await startedMachine();
    assert.equal(world.sandboxes.get(m.id)?.spec.process.env['V'], '1');
    await intend(m.id, 'started', 'updating', 'update', { instanceId: 'I2', config: { image: 'img', env: { V: '2' } } });
    const started = await reach(m.id, 'started');
    await agent.idle();
    assert.equal(started.instanceId, 'I2');
    assert.equal(world.sandboxes.get(m.id)?.spec.process.env['V'], '2');
    assert.deepEqual(world.starts, [m.id, m.id]);
  });

  test('updating a stopped machine starts it on the new config', async () => {
    const agent = await newAgent();
    const m = await startedMachine();
    await intend(m.id, 'started', 'stopping', 'stop');
    await reach(m.id, 'stopped');
    await intend(m.id, 'stopped', 'updating', 'update', { instanceId: 'I2', config: { image: 'img', env: { V: '3' } } });
    await reach(m.id, 'started');
    await agent.idle();
    assert.equal(world.sandboxes.get(m.id)?.spec.process.env['V'], '3');
  });

  test('suspending freezes the sandbox; start resumes the same one without starting again', async () => {
    const agent = await newAgent();
    const m = await startedMachine();
    await intend(m.id, 'started', 'suspending', 'suspend');
    await reach(m.id, 'suspended');
    assert.equal(world.sandboxes.get(m.id)?.paused, true);
    await intend(m.id, 'suspended', 'starting', 'start');
    await reach(m.id, 'started');
    await agent.idle();
    assert.equal(world.sandboxes.get(m.id)?.paused, false);
    assert.deepEqual(world.starts, [m.id], 'resumed, not started twice');
    const [latest] = await store.listEvents(m.id, { limit: 1 });
    assert.deepEqual(latest?.request, { after: 'starting', how: 'resumed' });
  });

  test('suspending a machine its driver can checkpoint saves it; start restores it; events say how', async () => {
    world.suspendAs = 'checkpoint';
    const agent = await newAgent();
    const m = await startedMachine();
    await intend(m.id, 'started', 'suspending', 'suspend');
    await reach(m.id, 'suspended');
    await agent.idle();
    assert.equal(world.sandboxes.get(m.id)?.running, false, 'nothing runs while checkpointed');
    const [suspended] = await store.listEvents(m.id, { limit: 1 });
    assert.deepEqual(suspended?.request, { how: 'checkpointed', ms: 1 });
    // A new agent (a restart) leaves a checkpointed machine as it is.
    await agent.stop({ stopMachines: false });
    const second = await newAgent();
    await second.idle();
    assert.equal((await store.getMachine(m.id))?.state, 'suspended');
    await intend(m.id, 'suspended', 'starting', 'start');
    await reach(m.id, 'started');
    await second.idle();
    assert.deepEqual(world.restores, [m.id]);
    assert.deepEqual(world.starts, [m.id], 'restored, not started again');
    const [latest] = await store.listEvents(m.id, { limit: 1 });
    assert.deepEqual(latest?.request, { after: 'starting', how: 'restored' });
    // Its exit after the restore is followed as any run's.
    world.exit(m.id, { exitCode: 0, signal: null });
    await reach(m.id, 'stopped');
  });

  test('a machine whose restore fails is started afresh, and the events say so', async () => {
    world.suspendAs = 'checkpoint';
    const agent = await newAgent();
    const m = await startedMachine();
    await intend(m.id, 'started', 'suspending', 'suspend');
    await reach(m.id, 'suspended');
    world.failNextRestore = 'restoring container: image is corrupt';
    await intend(m.id, 'suspended', 'starting', 'start');
    await reach(m.id, 'started');
    await agent.idle();
    assert.deepEqual(world.starts, [m.id, m.id], 'a cold start after the failed restore');
    assert.equal(await new FakeDriver(world).status(m.id), 'running');
    const failed = (await store.listEvents(m.id)).find((e) => e.type === 'restore');
    assert.deepEqual([failed?.status, failed?.request], ['failed', { error: 'restoring container: image is corrupt' }]);
  });

  test('a machine that is not safe to checkpoint is frozen instead, and the event says why', async () => {
    world.suspendAs = 'it has 1 open TCP connection';
    const agent = await newAgent();
    const m = await startedMachine();
    await intend(m.id, 'started', 'suspending', 'suspend');
    await reach(m.id, 'suspended');
    await agent.idle();
    assert.equal(world.sandboxes.get(m.id)?.paused, true);
    const [suspended] = await store.listEvents(m.id, { limit: 1 });
    assert.deepEqual(suspended?.request, { how: 'paused', reason: 'it has 1 open TCP connection' });
  });

  test('an exit by the OOM killer is recorded as such', async () => {
    const agent = await newAgent();
    const m = await startedMachine();
    await store.updateMachine(m.id, { patch: { config: { image: 'img', restart: { policy: 'no' } } } });
    world.exit(m.id, { exitCode: null, signal: 'SIGKILL', oomKilled: true });
    await reach(m.id, 'stopped');
    await agent.idle();
    const exit = (await store.listEvents(m.id)).find((e) => e.type === 'exit');
    assert.deepEqual(exit?.request?.['exit_event'], { exit_code: null, signal: 'SIGKILL', oom_killed: true, requested_stop: false, reason: 'oom killed' });
  });

  test('a suspended machine can be stopped, and one whose sandbox vanished is recorded stopped', async () => {
    const agent = await newAgent();
    const m = await startedMachine();
    await intend(m.id, 'started', 'suspending', 'suspend');
    await reach(m.id, 'suspended');
    await intend(m.id, 'suspended', 'stopping', 'stop');
    await reach(m.id, 'stopped');
    await agent.idle();
    assert.equal(world.sandboxes.has(m.id), false);

    const other = await startedMachine();
    await intend(other.id, 'started', 'suspending', 'suspend');
    await reach(other.id, 'suspended');
    await agent.stop({ stopMachines: false });
    world.sandboxes.delete(other.id); // a host reboot loses the frozen sandbox
    await newAgent();
    const stopped = await reach(other.id, 'stopped');
    assert.equal(stopped.state, 'stopped');
  });

  test('a user restart starts a fresh count for the restart policy', async () => {
    const agent = await newAgent();
    const m = await startedMachine();
    await store.updateMachine(m.id, { patch: { config: { image: 'img', restart: { policy: 'on-failure', max_retries: 1 } } } });
    world.exit(m.id, { exitCode: 1, signal: null });
    await reach(m.id, 'starting');
    await reach(m.id, 'started');
    await intend(m.id, 'started', 'restarting', 'restart');
    await reach(m.id, 'started');
    await agent.idle();
    // One automatic restart was used before the user's restart; the count starts again.
    world.exit(m.id, { exitCode: 1, signal: null });
    await reach(m.id, 'starting');
    await reach(m.id, 'started');
    await agent.idle();
    assert.equal(world.starts.length, 4);
  });
});
