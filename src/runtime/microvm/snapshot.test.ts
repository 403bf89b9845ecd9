import assert from 'node:assert/strict';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { isAloftError } from '../../lib/errors.ts';
import { readSnapshot, resumeVm, suspendVm } from './snapshot.ts';
import { counterGuest, readTicks, waitForTick } from './test-guest.ts';
import type { VmSpec } from './vmm.ts';

// The snapshot compares the disk as saved, so it is not all zeros.
const { skip, hasQemu, dir, spec, vmm, handles } = await counterGuest({ prefix: 'aloft-snap-', memoryMb: 256, diskBytes: 4 << 20, diskFill: 1, tools: ['zstd'] });

test('suspend then resume keeps the guest memory and the disk as saved', { skip }, async () => {
  const bootStart = Date.now();
  const handle = await vmm.boot(spec, join(dir, 'state'));
  handles.push(handle);
  await waitForTick(spec.consoleLog, 3, 60_000);
  const coldMs = Date.now() - bootStart;

  const suspendStart = Date.now();
  const manifest = await suspendVm(vmm, handle, spec, join(dir, 'snap'));
  const suspendMs = Date.now() - suspendStart;
  assert.equal(await vmm.isAlive(handle), false);
  assert.deepEqual(await readSnapshot(join(dir, 'snap')), manifest);
  const last = (await readTicks(spec.consoleLog)).at(-1)!;
  const stateBytes = (await stat(manifest.stateFile)).size;

  // Anything that touches the disk after the save is undone by the resume.
  await writeFile(spec.disks[0]!.path, Buffer.alloc(4 << 20, 2));

  const resumeStart = Date.now();
  const resumed = await resumeVm(vmm, spec, join(dir, 'state'), join(dir, 'snap'));
  handles.push(resumed);
  const next = await waitForTick(spec.consoleLog, last, 30_000);
  const resumeMs = Date.now() - resumeStart;
  // The counter goes on: memory survived (a cold boot would print "tick 1" again).
  const ticks = await readTicks(spec.consoleLog);
  assert.equal(ticks.filter((t) => t === 1).length, 1, 'no second boot');
  assert.ok(next > last);
  assert.equal((await readFile(spec.disks[0]!.path))[0], 1, 'the disk is the one saved with the memory');
  assert.equal(await readSnapshot(join(dir, 'snap')), null, 'the snapshot is consumed');
  assert.equal(await vmm.state(resumed), 'running');
  // Regression: waiting on the suspended VM's old handle must not wait on its successor
  // in the same state dir (it once hung a test's cleanup and leaked the restored QEMU).
  assert.deepEqual(await vmm.wait(handle), { exitCode: null, signal: null });
  console.log(
    `cold boot to 3rd tick ${coldMs} ms; suspend ${suspendMs} ms (save ${manifest.saveMs} ms, ${(stateBytes / 1e6).toFixed(1)} MB zstd of ${(manifest.ramBytes / 1e6).toFixed(0)} MB); resume to next tick ${resumeMs} ms`,
  );
  await vmm.quit(resumed, 10_000);
});

test('resume without a snapshot is refused', { skip: hasQemu ? false : 'no qemu' }, async () => {
  await assert.rejects(
    resumeVm(vmm, spec ?? ({ disks: [] } as unknown as VmSpec), join(dir, 'state9'), join(dir, 'none')),
    (err: unknown) => isAloftError(err, 'VMM_FAILED') && /must hold a whole snapshot/.test(err.message),
  );
});
