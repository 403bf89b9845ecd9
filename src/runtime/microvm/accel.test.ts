import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { isAloftError } from '../../lib/errors.ts';
import { detectAccel, probeBoot } from './accel.ts';
import { QEMU_BINARY } from './qemu-command.ts';
import { testGuestKernel } from './test-kernel.ts';

const hasQemu = spawnSync(QEMU_BINARY, ['--version']).status === 0;
const guest = hasQemu ? await testGuestKernel() : { kernel: null, skip: `${QEMU_BINARY} is not installed` };
const skip = guest.skip;
const busybox = '/bin/busybox';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'aloft-accel-test-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('the probe guest boots to /init and powers off under tcg', { skip }, async () => {
  const result = await probeBoot(QEMU_BINARY, guest.kernel!.vmlinux, busybox, 'tcg', 60_000);
  assert.equal(result.ok, true, result.detail);
});

test('detects tcg on this host (PVM /dev/kvm) without hanging, and caches the answer', { skip }, async () => {
  const cacheFile = join(dir, 'accel.json');
  const first = await detectAccel({ kernel: guest.kernel!.vmlinux, cacheFile });
  // HOST.md: /dev/kvm here is PVM, where a stock kernel dies; a real KVM host answers kvm.
  assert.equal(first.accel, 'tcg', first.reason);
  assert.equal(first.cached, false);
  assert.match(first.reason, /KVM does not work here/);
  const second = await detectAccel({ kernel: guest.kernel!.vmlinux, cacheFile });
  assert.deepEqual(second, { ...first, cached: true });

  // A different key (say, a QEMU upgrade) probes again; the cache names what it saw.
  const entry = JSON.parse(await readFile(cacheFile, 'utf8')) as { key: string };
  await writeFile(cacheFile, JSON.stringify({ ...entry, key: 'other', accel: 'kvm' }));
  const third = await detectAccel({ kernel: guest.kernel!.vmlinux, cacheFile });
  assert.equal(third.cached, false);
  assert.equal(third.accel, 'tcg');
});

test('a missing kernel is refused by name', { skip: hasQemu ? false : 'no qemu' }, async () => {
  await assert.rejects(
    detectAccel({ kernel: join(dir, 'nope'), cacheFile: join(dir, 'c.json') }),
    (err: unknown) => isAloftError(err, 'VMM_FAILED') && /'kernel' must be an existing file/.test(err.message),
  );
});
