import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { LinuxHostNetwork, machineIpv6 } from '../../net/index.ts';
import { busyboxSpecFixture, runDriverContract, type SpecFixture } from '../contract.ts';
import { QEMU_BINARY } from './qemu-command.ts';
import { GUEST_MEMORY_OVERHEAD_MB, MicrovmDriver } from './microvm-driver.ts';
import { TEST_GUEST_CACHE, testGuestKernel } from './test-kernel.ts';
import type { VmSpec } from './vmm.ts';

/** Why the microvm contract cannot run here, or false. */
async function skipReason(): Promise<string | false> {
  if (process.getuid?.() !== 0) return 'needs root';
  if (spawnSync(QEMU_BINARY, ['--version']).status !== 0) return `${QEMU_BINARY} is not installed (apt-get install qemu-system-x86)`;
  if (spawnSync('gcc', ['--version']).status !== 0) return 'gcc is not installed (the guest init is built with it)';
  return (await testGuestKernel()).skip;
}

const skip = await skipReason();
// Short: QEMU's sockets live under it (108-byte limit).
const stateRoot = mkdtempSync(join(tmpdir(), 'amv-'));
after(() => rmSync(stateRoot, { recursive: true, force: true }));

runDriverContract(
  'microvm (qemu, tcg)',
  () => new MicrovmDriver({ stateRoot, cacheDir: TEST_GUEST_CACHE, accel: 'tcg' }),
  () =>
    busyboxSpecFixture(async (spec) => {
      // The VM's RAM is the memory limit plus what the guest kernel keeps for itself.
      const vm = JSON.parse(await readFile(join(stateRoot, spec.machineId, 'vm-spec.json'), 'utf8')) as VmSpec;
      return (vm.memoryMb - GUEST_MEMORY_OVERHEAD_MB) * 1024 * 1024;
    }),
  {
    skip,
    checkpoints: true,
    // The serial console is a tty: until the guest turns ONLCR off, lines end in \r\n.
    logLine: (line) => line.replace(/\r$/, ''),
    report: (figures) => console.log(`microvm contract figures: ${JSON.stringify(figures)}`),
  },
);

describe('microvm suspend to disk and restore (real, tcg)', { skip }, () => {
  const tag = randomBytes(3).toString('hex');
  const third = randomInt(0, 256);
  const network = new LinuxHostNetwork({ bridge: `als${tag}`, netnsPrefix: `als${tag}-`, vethPrefix: 'vs', ipv4Subnet: `172.28.${third}.0/24` });
  const id = `s${randomBytes(6).toString('hex')}`;
  const addresses = { ipv4: `172.28.${third}.2`, ipv6: machineIpv6(randomInt(1, 2 ** 32), 3, 5) };
  const driver = new MicrovmDriver({ stateRoot, cacheDir: TEST_GUEST_CACHE, accel: 'tcg' });
  let fixture: SpecFixture;

  after(async () => {
    await driver.remove(id).catch(() => undefined);
    await network.detach(id);
    await new Promise((resolve) => execFile('ip', ['link', 'del', network.bridge], resolve));
    await fixture?.cleanup();
  });

  it('keeps process memory across suspend and restore, and serves again within a second', { timeout: 120_000 }, async () => {
    fixture = await busyboxSpecFixture(async () => null);
    await network.ensureBridge();
    const { netnsPath } = await network.attach(id, addresses);
    // A counter held only in the shell's memory, published through httpd.
    const script = 'i=0; (while true; do i=$((i+1)); echo $i > /www/count.tmp; busybox mv /www/count.tmp /www/count; sleep 0.1; done) & exec httpd -f -p 8080 -h /www';
    const spec = await fixture.spec({ machineId: id, args: ['sh', '-c', script], netnsPath, memoryMb: 256 });
    const bootStart = Date.now();
    await driver.start(spec);
    const url = `http://${addresses.ipv4}:8080/count`;
    const before = Number(await eventuallyGet(url, 60_000));
    const coldMs = Date.now() - bootStart;
    await waitUntil(async () => Number(await eventuallyGet(url, 5_000)) > before + 5);
    const counted = Number(await eventuallyGet(url, 5_000));

    const outcome = await driver.suspend(id);
    assert.equal(outcome.how, 'checkpointed');
    assert.equal(await driver.status(id), 'suspended');
    assert.equal(await new MicrovmDriver({ stateRoot, cacheDir: TEST_GUEST_CACHE }).status(id), 'suspended', 'any instance sees it');

    const restoreStart = Date.now();
    await driver.restoreFromSuspend(id);
    const after = Number(await eventuallyGet(url, 30_000));
    const resumeMs = Date.now() - restoreStart;
    assert.equal(await driver.status(id), 'running');
    // The counter goes on from where it was: a cold boot would start again near 1.
    assert.ok(after >= counted, `counter ${after} after restore, ${counted} before`);
    // The guest channel works on the restored VM.
    assert.deepEqual((await driver.exec(id, { args: ['cat', '/www/count'], timeoutMs: 10_000 })).exitCode, 0);
    console.log(`microvm (tcg): cold start to first HTTP 200 ${coldMs} ms; suspend ${'ms' in outcome ? outcome.ms : '?'} ms; restore to first 200 ${resumeMs} ms`);
    assert.equal((await driver.stop(id, { signal: 'SIGKILL', timeoutMs: 10_000 })).signal, 'SIGKILL');
  });
});

/** GETs `url` until it answers 200 (the guest may still be booting); returns the body. */
async function eventuallyGet(url: string, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1_000) });
      const body = await res.text();
      if (res.status === 200) return body.trim();
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`no 200 from ${url} within ${timeoutMs} ms`);
    await delay(10);
  }
}

async function waitUntil(check: () => Promise<boolean>): Promise<void> {
  while (!(await check())) await delay(20);
}
