import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { isAloftError } from '../lib/errors.ts';
import { machineEvent } from '../model/index.ts';
import { openSqliteStore, type Store } from '../store/index.ts';
import { sampleApp, sampleMachine } from '../store/testing.ts';
import { RestartRollout } from './rollout.ts';
import { FakeAgent } from './testing.ts';
import { SecretVault } from './vault.ts';

/** An app with `states.length` Machines in those states, created in order. */
async function givenMachines(store: Store, states: ('started' | 'stopped')[]) {
  const app = await store.createApp(sampleApp());
  const machines = [];
  for (const [i, state] of states.entries()) {
    machines.push(await store.createMachine(sampleMachine({ appName: app.name, state, createdAt: Date.now() + i }), [machineEvent('launch', 'created', 'user')]));
  }
  return { app, machines };
}

describe('RestartRollout: started Machines restarted one at a time with the current secrets', () => {
  test('each started Machine boots a new version of the same config, one after the other; stopped ones are left', async () => {
    const store = await openSqliteStore({ path: ':memory:' });
    const vault = new SecretVault(store, randomBytes(32));
    const { app, machines } = await givenMachines(store, ['started', 'stopped', 'started', 'started']);
    await store.writeSecrets(app.name, { set: await vault.seal(app, { TOKEN: 'new' }) });
    const agent = new FakeAgent(store, { secrets: vault });
    const result = await new RestartRollout(store).rollout(app.name);
    agent.stop();
    const started = machines.filter((m) => m.state === 'started');
    assert.deepEqual(result.machines.map((m) => m.id), started.map((m) => m.id));
    assert.equal(agent.maxConcurrent, 1, 'never two at once');
    assert.deepEqual(agent.boots.map((b) => [b.id, b.env]), started.map((m) => [m.id, { TOKEN: 'new' }]));
    for (const [i, m] of started.entries()) {
      const now = (await store.getMachine(m.id))!;
      assert.equal(now.state, 'started');
      assert.equal(now.instanceId, result.machines[i]!.instanceId);
      assert.notEqual(now.instanceId, m.instanceId);
      assert.deepEqual(now.config, m.config, 'same config');
      const versions = await store.listMachineVersions(m.id);
      assert.equal(versions.length, 2, 'the old version kept as replaced');
      assert.equal(await store.getLease(m.id, Date.now()), undefined, 'its lease released');
    }
    assert.equal((await store.getMachine(machines[1]!.id))!.instanceId, machines[1]!.instanceId);
    await store.close();
  });

  test('the first Machine that fails stops the rollout: SECRETS_DEPLOY_FAILED with its error; the later ones are untouched', async () => {
    const store = await openSqliteStore({ path: ':memory:' });
    const { app, machines } = await givenMachines(store, ['started', 'started', 'started']);
    const agent = new FakeAgent(store, { fail: (m) => m.id === machines[1]!.id });
    await assert.rejects(new RestartRollout(store).rollout(app.name), (err: unknown) => {
      assert.ok(isAloftError(err, 'SECRETS_DEPLOY_FAILED'), String(err));
      assert.match(err.message, new RegExp(`machine ${machines[1]!.id} \\(2 of 3\\) .* must be started again after its restart: got failed \\(exit code 3: missing DATABASE_URL\\)`));
      assert.match(err.message, /aloft secrets deploy/);
      return true;
    });
    agent.stop();
    assert.deepEqual(agent.boots.map((b) => b.id), [machines[0]!.id]);
    assert.equal((await store.getMachine(machines[2]!.id))!.instanceId, machines[2]!.instanceId, 'the third was not restarted');
    assert.equal(await store.getLease(machines[1]!.id, Date.now()), undefined, 'the failed one is not left leased');
    await store.close();
  });

  test('a Machine leased by another holder stops the rollout with MACHINE_LEASED naming the holder', async () => {
    const store = await openSqliteStore({ path: ':memory:' });
    const { app, machines } = await givenMachines(store, ['started']);
    await store.acquireLease({ machineId: machines[0]!.id, newNonce: 'n1', owner: 'deployer@example', description: 'deploy', ttlMs: 60_000, now: Date.now() });
    await assert.rejects(new RestartRollout(store).rollout(app.name), (err: unknown) => isAloftError(err, 'MACHINE_LEASED') && /to apply secrets as it must not be leased by another holder: got a lease held by deployer@example until /.test(err.message));
    assert.equal((await store.getMachine(machines[0]!.id))!.state, 'started');
    await store.close();
  });

  test('a Machine that does not come back in time is SECRETS_DEPLOY_FAILED saying how long it waited', async () => {
    const store = await openSqliteStore({ path: ':memory:' });
    const { app } = await givenMachines(store, ['started']);
    // No agent at all: the Machine stays `updating`.
    await assert.rejects(new RestartRollout(store, { timeoutMs: 50 }).rollout(app.name), (err: unknown) => isAloftError(err, 'SECRETS_DEPLOY_FAILED') && /got still not started after 0.05s/.test(err.message));
    await store.close();
  });

  test('an app without started Machines restarts nothing', async () => {
    const store = await openSqliteStore({ path: ':memory:' });
    const { app } = await givenMachines(store, ['stopped']);
    assert.deepEqual(await new RestartRollout(store).rollout(app.name), { machines: [] });
    await store.close();
  });
});
