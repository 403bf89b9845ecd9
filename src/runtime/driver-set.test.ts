import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AloftError } from '../lib/errors.ts';
import { FakeDriver, FakeWorld } from '../agent/testing/fake-driver.ts';
import { DriverSet } from './driver-set.ts';
import type { Driver, RunSpec } from './driver.ts';

function spec(machineId: string, driver?: string): RunSpec {
  return {
    machineId,
    ...(driver ? { driver } : {}),
    rootfs: '/nonexistent',
    workDir: '/nonexistent',
    hostname: machineId,
    process: { args: ['true'], env: {}, cwd: '/', uid: 0, gid: 0, additionalGids: [] },
    limits: { cpus: 1, memoryMb: 256 },
    netnsPath: null,
    files: [],
    logPath: '/nonexistent/log',
  };
}

/** A driver whose runtime is not installed: `check` fails, everything else is unreachable. */
class MissingDriver extends FakeDriver {
  override async check(): Promise<void> {
    throw new AloftError('RUNTIME_MISSING', 'qemu is not installed');
  }
}

/** The driver without the optional suspend methods, as runc's is. */
function withoutSuspend(inner: FakeDriver): Driver {
  return new Proxy(inner, {
    get(target, key) {
      if (key === 'suspend' || key === 'restoreFromSuspend') return undefined;
      const value: unknown = Reflect.get(target, key, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

describe('DriverSet', () => {
  it('starts on the driver the spec names, else the default, and routes later calls there', async () => {
    const oci = new FakeWorld();
    const vm = new FakeWorld();
    const set = new DriverSet({ oci: new FakeDriver(oci), microvm: new FakeDriver(vm) }, 'oci');
    await set.check();
    await set.start(spec('a'));
    await set.start(spec('b', 'microvm'));
    assert.deepEqual(oci.starts, ['a']);
    assert.deepEqual(vm.starts, ['b']);
    await set.signal('b', 'SIGUSR1');
    assert.deepEqual(vm.signals, ['b SIGUSR1']);
    assert.deepEqual(oci.signals, []);
    assert.equal(await set.status('b'), 'running');
    assert.deepEqual((await set.list()).sort(), ['a', 'b']);
  });

  it('finds a Machine started before an agent restart by asking each driver', async () => {
    const oci = new FakeWorld();
    const vm = new FakeWorld();
    await new FakeDriver(vm).start(spec('old', 'microvm'));
    const set = new DriverSet({ oci: new FakeDriver(oci), microvm: new FakeDriver(vm) }, 'oci');
    await set.check();
    assert.equal(await set.status('old'), 'running');
    const exit = await set.stop('old', { signal: 'SIGTERM', timeoutMs: 10 });
    assert.ok(exit);
    assert.equal(vm.sandboxes.get('old')?.running, false);
    assert.equal(await set.status('nobody'), 'absent');
  });

  it('refuses a driver the host does not offer, naming the field and the choices', async () => {
    const set = new DriverSet({ oci: new FakeDriver(new FakeWorld()) }, 'oci');
    await assert.rejects(set.start(spec('x', 'firecracker')), (err: AloftError) => {
      assert.equal(err.code, 'INVALID_ARGUMENT');
      assert.match(err.message, /'config\.guest\.driver' must be one this host offers \(oci\): got firecracker/);
      return true;
    });
  });

  it('runs without a missing optional driver, and a Machine asking for it fails with RUNTIME_MISSING', async () => {
    const set = new DriverSet({ oci: new FakeDriver(new FakeWorld()), microvm: new MissingDriver(new FakeWorld()) }, 'oci');
    await set.check();
    assert.deepEqual(await set.list(), []);
    await assert.rejects(set.start(spec('y', 'microvm')), (err: AloftError) => err.code === 'RUNTIME_MISSING');
  });

  it("forwards suspend and restore to the holder's own, and freezes with a reason where a driver has none", async () => {
    const vm = new FakeWorld();
    vm.suspendAs = 'checkpoint';
    const set = new DriverSet({ oci: withoutSuspend(new FakeDriver(new FakeWorld())), microvm: new FakeDriver(vm) }, 'oci');
    await set.check();
    await set.start(spec('v', 'microvm'));
    await set.start(spec('c'));
    assert.equal((await set.suspend('v')).how, 'checkpointed');
    assert.equal(await set.status('v'), 'suspended');
    await set.restoreFromSuspend('v');
    assert.equal(await set.status('v'), 'running');
    assert.deepEqual(await set.suspend('c'), { how: 'paused', reason: 'the fake driver suspends by freezing' });
    assert.equal(await set.status('c'), 'paused');
    await assert.rejects(set.restoreFromSuspend('c'), /its driver fake has no saved images/);
  });

  it('refuses a default that is not one of its drivers', () => {
    assert.throws(() => new DriverSet({ oci: new FakeDriver(new FakeWorld()) }, 'microvm'), /'default' must be one of oci: got microvm/);
  });
});
