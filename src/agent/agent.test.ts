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


describe('Agent', () => {
  let store: Store;
  let world: FakeWorld;
  let dataDir: string;
  let agents: Agent[];
  const released: string[] = [];

  const images: AgentImages = {
    imageConfig: async () => ({ entrypoint: ['/bin/app'], cmd: ['--serve'], env: ['PATH=/bin', 'A=image'], workingDir: '/srv', user: '', exposedPorts: [] }),
    unpack: async () => join(dataDir, 'image-root'),
    prepareRootfs: async (_root, machineDir) => {
      await mkdir(join(machineDir, 'rootfs'), { recursive: true });
      return join(machineDir, 'rootfs');
    },
    releaseRootfs: async (machineDir) => void released.push(machineDir),
  };

  const newAgent = async (): Promise<Agent> => {
    const agent = new Agent({ host: TEST_HOST, store, driver: new FakeDriver(world), network: fakeNetwork, images, dataDir });
    agents.push(agent);
    await agent.start();
    return agent;
  };

  /** Resolves when the machine reaches `state`, through the store's watch. */
  const reach = (id: string, state: MachineState): Promise<Machine> => reachState(store, id, state);

  const createMachine = (state: MachineState, config: Partial<Machine['config']> = {}): Promise<Machine> =>
    store.createMachine(testMachine(state, { env: { A: 'machine' }, ...config }));

  const request = (id: string, from: MachineState[], to: MachineState, request?: Record<string, unknown>) =>
    store.updateMachine(id, { patch: { state: to }, expectState: from, events: [machineEvent(to === 'starting' ? 'start' : to === 'stopping' ? 'stop' : 'destroy', 'requested', 'user', request)] });

  beforeEach(async () => {
    store = await openAgentTestStore();
    world = new FakeWorld();
    dataDir = await mkdtemp(join(tmpdir(), 'aloft-agent-'));
    agents = [];
  });
  afterEach(async () => {
    for (const agent of agents) await agent.stop({ stopMachines: false });
    await store.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  test('starts a machine it is asked to start, with the Fly environment and the command resolved', async () => {
    await newAgent();
    const m = await createMachine('created');
    await request(m.id, ['created'], 'starting');
    await reach(m.id, 'started');
    const spec = world.sandboxes.get(m.id)!.spec;
    assert.deepEqual(spec.process.args, ['/bin/app', '--serve']);
    assert.equal(spec.process.cwd, '/srv');
    assert.equal(spec.process.env['A'], 'machine', 'machine env wins over image env');
    assert.equal(spec.process.env['FLY_MACHINE_ID'], m.id);
    assert.equal(spec.process.env['FLY_APP_NAME'], 'web');
    assert.equal(spec.process.env['FLY_REGION'], 'local');
    assert.equal(spec.process.env['FLY_PRIVATE_IP'], 'fdaa:0:1:0:1:0:1:2');
    assert.match(spec.files[0]!.content, /fdaa:0:1:0:1:0:1:2\tfly-local-6pn/);
    assert.deepEqual(spec.files[1], { path: '/etc/resolv.conf', content: 'nameserver fdaa::3\n' }, 'the private resolver');
    assert.equal(spec.netnsPath, `/var/run/netns/test-${m.id}`);
    const events = await store.listEvents(m.id);
    assert.deepEqual(events.map((e) => `${e.type}:${e.status}:${e.source}`).slice(0, 2), ['start:started:flyd', 'start:requested:user']);
  });

  test('stops with the requested signal and records the exit', async () => {
    const agent = await newAgent();
    const m = await createMachine('created');
    await request(m.id, ['created'], 'starting');
    await reach(m.id, 'started');
    await request(m.id, ['started'], 'stopping', { signal: 'SIGTERM' });
    await reach(m.id, 'stopped');
    const [exit] = await store.listEvents(m.id, { limit: 1 });
    assert.equal(exit?.type, 'exit');
    assert.deepEqual((exit?.request?.['exit_event'] as Record<string, unknown>)['signal'], 'SIGTERM');
    // `stopped` is recorded first (the proxy drops the route at once), clean-up follows.
    await agent.idle();
    assert.equal(world.sandboxes.has(m.id), false, 'the sandbox is removed after a stop');
  });

  test('a restarted agent adopts a running machine and never starts it twice', async () => {
    const first = await newAgent();
    const m = await createMachine('created');
    await request(m.id, ['created'], 'starting');
    await reach(m.id, 'started');
    await first.stop({ stopMachines: false });
    await newAgent();
    assert.deepEqual(world.starts, [m.id]);
    assert.equal((await store.getMachine(m.id))?.state, 'started');
    // The new agent follows the adopted machine: its exit is seen and recorded.
    world.exit(m.id, { exitCode: 0, signal: null });
    await reach(m.id, 'stopped');
  });

  test('a start interrupted after the sandbox ran is finished by adoption, not a second start', async () => {
    const m = await createMachine('starting');
    // An earlier agent started the sandbox, then died before recording `started`.
    await new FakeDriver(world).start({ machineId: m.id } as never);
    world.starts = [];
    await newAgent();
    await reach(m.id, 'started');
    assert.deepEqual(world.starts, []);
  });

  test('a machine that exited while the agent was away is recorded as stopped (or restarted by policy)', async () => {
    const m = await createMachine('started', { restart: { policy: 'no' } });
    await newAgent();
    const stopped = await reach(m.id, 'stopped');
    assert.equal(stopped.state, 'stopped');
  });

  test('regression: a reconcile between an exit and the driver reporting it keeps the exit code', async () => {
    const agent = await newAgent();
    const m = await createMachine('created', { restart: { policy: 'no' } });
    await request(m.id, ['created'], 'starting');
    await reach(m.id, 'started');
    world.exit(m.id, { exitCode: 3, signal: null }, { tellWaiters: false });
    // Any write to the Machine (a check flipping, metadata) makes the agent look at it again.
    await store.updateMachine(m.id, { patch: { checks: [] } });
    await agent.idle();
    if (world.sandboxes.has(m.id)) world.tellWaiters(m.id);
    await reach(m.id, 'stopped');
    const [exit] = await store.listEvents(m.id, { limit: 1 });
    assert.equal((exit?.request?.['exit_event'] as Record<string, unknown>)['exit_code'], 3);
  });

  test('on-failure restarts a crashed machine, up to max_retries', async () => {
    await newAgent();
    const m = await createMachine('created', { restart: { policy: 'on-failure', max_retries: 1 } });
    await request(m.id, ['created'], 'starting');
    await reach(m.id, 'started');
    const restarted = new Promise<void>((resolve) => {
      const stop = store.watch((c) => {
        if (c.kind === 'machine' && c.op === 'put' && c.machine.state === 'started' && world.starts.length === 2) {
          stop();
          resolve();
        }
      });
    });
    world.exit(m.id, { exitCode: 1, signal: null });
    await restarted;
    world.exit(m.id, { exitCode: 1, signal: null });
    await reach(m.id, 'stopped');
    assert.equal(world.starts.length, 2, 'one restart, then it stays stopped');
  });

  test('a start that fails marks the machine failed with the reason, and cleans up', async () => {
    await newAgent();
    const m = await createMachine('created');
    world.failNextStart = 'runsc exploded';
    await request(m.id, ['created'], 'starting');
    await reach(m.id, 'failed');
    const [event] = await store.listEvents(m.id, { limit: 1 });
    assert.equal(event?.request?.['error'], 'runsc exploded');
    assert.ok(released.some((d) => d.endsWith(m.id)));
  });

  test('destroy kills and frees everything, then records destroyed', async () => {
    await newAgent();
    const m = await createMachine('created');
    await request(m.id, ['created'], 'starting');
    await reach(m.id, 'started');
    await request(m.id, ['started'], 'destroying');
    await reach(m.id, 'destroyed');
    assert.equal(world.sandboxes.has(m.id), false);
  });

  test('a destroy whose first try fails is retried, not left half-way (regression: runsc forgot a killed sandbox)', async () => {
    await newAgent();
    const m = await createMachine('created');
    await request(m.id, ['created'], 'starting');
    await reach(m.id, 'started');
    world.failStops = 1;
    await request(m.id, ['started'], 'destroying');
    await reach(m.id, 'destroyed');
    assert.equal(world.sandboxes.has(m.id), false);
  });

  test('stopping the host stops machines, and the next agent starts them again', async () => {
    const first = await newAgent();
    const m = await createMachine('created');
    await request(m.id, ['created'], 'starting');
    await reach(m.id, 'started');
    agents = agents.filter((a) => a !== first);
    await first.stop({ stopMachines: true });
    assert.equal((await store.getMachine(m.id))?.state, 'stopped');
    await newAgent();
    await reach(m.id, 'started');
    assert.equal(world.starts.length, 2);
  });

  test('a sandbox the store does not know is removed at start', async () => {
    await new FakeDriver(world).start({ machineId: 'orphan00000000' } as never);
    await newAgent();
    assert.equal(world.sandboxes.has('orphan00000000'), false);
  });
});
