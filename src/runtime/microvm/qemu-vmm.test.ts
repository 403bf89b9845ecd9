import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { isAloftError } from '../../lib/errors.ts';
import { QemuVmm, vmFiles } from './qemu-vmm.ts';
import { counterGuest, readTicks, waitForTick } from './test-guest.ts';

const { skip, hasQemu, dir, spec, vmm, handles } = await counterGuest({ prefix: 'aloft-vmm-', memoryMb: 128, diskBytes: 1 << 20, channel: true });

test('boots, pauses, resumes, is adopted by a new instance, quits', { skip }, async () => {
  const started = Date.now();
  const handle = await vmm.boot(spec, join(dir, 'state'));
  handles.push(handle);
  const qmpMs = Date.now() - started;
  assert.ok(handle.pid > 0);
  assert.equal(await vmm.isAlive(handle), true);
  const first = await waitForTick(spec.consoleLog, 0, 60_000);
  const firstTickMs = Date.now() - started;

  await vmm.pause(handle);
  assert.equal(await vmm.state(handle), 'paused');
  const frozen = (await readTicks(spec.consoleLog)).at(-1)!;
  await vmm.resume(handle);
  assert.equal(await vmm.state(handle), 'running');
  assert.ok((await waitForTick(spec.consoleLog, frozen, 30_000)) > first);

  // Another instance (a restarted agent) finds it by its state dir.
  const adopted = await new QemuVmm().adopt(join(dir, 'state'));
  assert.deepEqual(adopted, handle);
  assert.equal(await new QemuVmm().state(adopted!), 'running');

  const exit = await vmm.quit(handle, 10_000);
  assert.deepEqual(exit, { exitCode: 0, signal: null });
  assert.equal(await vmm.isAlive(handle), false);
  assert.equal(await vmm.state(handle), 'exited');
  console.log(`QMP up ${qmpMs} ms, first console tick ${firstTickMs} ms after boot() under TCG`);
});

test('kill records SIGKILL; wait works for it', { skip }, async () => {
  const handle = await vmm.boot({ ...spec, disks: [], paused: true }, join(dir, 'state2'));
  handles.push(handle);
  assert.equal(await vmm.state(handle), 'paused');
  const waiting = vmm.wait(handle);
  assert.deepEqual(await vmm.kill(handle), { exitCode: null, signal: 'SIGKILL' });
  assert.deepEqual(await waiting, { exitCode: null, signal: 'SIGKILL' });
});

test('a QEMU that refuses its arguments fails boot with its own words', { skip: hasQemu ? false : 'no qemu' }, async () => {
  const stateDir = join(dir, 'state3');
  await assert.rejects(
    vmm.boot({ ...(spec ?? {}), kernel: join(dir, 'no-kernel'), initrd: join(dir, 'x'), disks: [], cmdline: 'x', consoleLog: join(dir, 'c3.log'), controlSocket: join(dir, 'q3.sock'), memoryMb: 128, cpus: 1, accel: 'tcg' }, stateDir),
    (err: unknown) => isAloftError(err, 'VMM_FAILED') && /no-kernel/.test(err.message) && /before its QMP socket answered/.test(err.message),
  );
  assert.match(await readFile(vmFiles(stateDir).exit, 'utf8'), /^1\n$/);
});
