import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { machineEvent } from '../model/index.ts';
import { Agent } from './agent.ts';
import type { AgentImages } from './ports.ts';
import { FakeDriver, FakeWorld } from './testing/fake-driver.ts';
import { fakeNetwork, openAgentTestStore, reachState, TEST_HOST, testMachine } from './testing/fixtures.ts';

// A host that was marked down comes back (its agent never stopped: a partition) and
// learns that its Machine was re-placed elsewhere: its own copy must stop, or the
// Machine would run twice.
test('a Machine marked migrated is stopped and cleaned up on its old host', async () => {
  const store = await openAgentTestStore();
  const world = new FakeWorld();
  const dataDir = await mkdtemp(join(tmpdir(), 'aloft-agent-migrated-'));
  const images: AgentImages = {
    imageConfig: async () => ({ entrypoint: ['/bin/app'], cmd: [], env: [], workingDir: '/', user: '', exposedPorts: [] }),
    unpack: async () => join(dataDir, 'image-root'),
    prepareRootfs: async (_root, machineDir) => {
      await mkdir(join(machineDir, 'rootfs'), { recursive: true });
      return join(machineDir, 'rootfs');
    },
    releaseRootfs: async () => undefined,
  };
  const agent = new Agent({ host: TEST_HOST, store, driver: new FakeDriver(world), network: fakeNetwork, images, dataDir, checks: false });
  try {
    await agent.start();
    const machine = await store.createMachine(testMachine('starting'));
    await reachState(store, machine.id, 'started');
    assert.equal(world.sandboxes.get(machine.id)?.running, true);

    await store.updateMachine(machine.id, { patch: { state: 'migrated' }, events: [machineEvent('migrate', 'migrated', 'flyd', { reason: 'host h1 is down' })] });
    await agent.idle();
    assert.equal(world.sandboxes.has(machine.id), false, 'the sandbox is gone');
    assert.equal((await store.getMachine(machine.id))?.state, 'migrated', 'the record stays as the monitor wrote it');
  } finally {
    await agent.stop({ stopMachines: false });
    await store.close();
    await rm(dataDir, { recursive: true, force: true });
  }
});
