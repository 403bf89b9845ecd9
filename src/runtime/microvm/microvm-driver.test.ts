import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { LinuxHostNetwork, machineIpv6 } from '../../net/index.ts';
import { busyboxSpecFixture, runDriverContract, type SpecFixture } from '../contract.ts';
import { QEMU_BINARY } from './qemu-command.ts';
import { dropChannelsForTest, GUEST_MEMORY_OVERHEAD_MB, MicrovmDriver } from './microvm-driver.ts';
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
    checkpointsConnections: true,
    leftovers: (spec) => microvmLeftovers(spec.machineId),
    processes: (spec) => qemuProcesses(spec.machineId),
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

describe('microvm exits without a connected host, and crashes (real, tcg)', { skip }, () => {
  const driver = new MicrovmDriver({ stateRoot, cacheDir: TEST_GUEST_CACHE, accel: 'tcg' });
  const ids: string[] = [];
  let fixture: SpecFixture;

  after(async () => {
    for (const id of ids) await driver.remove(id).catch(() => undefined);
    await fixture?.cleanup();
  });

  it('keeps the exit report for a host that connects after the process ended (an agent restarted)', { timeout: 120_000 }, async () => {
    fixture ??= await busyboxSpecFixture(async () => null);
    const id = `l${randomBytes(6).toString('hex')}`;
    ids.push(id);
    // The process waits for a file the test writes, so it ends only once no host is connected.
    const spec = await fixture.spec({ machineId: id, args: ['sh', '-c', 'echo ready; while [ ! -e /tmp/go ]; do sleep 0.1; done; echo bye; exit 5'] });
    // Another process starts the Machine and exits: its channel closes with it, as an agent's would.
    const starter = `import { MicrovmDriver } from ${JSON.stringify(new URL('./microvm-driver.ts', import.meta.url).href)};
      await new MicrovmDriver({ stateRoot: ${JSON.stringify(stateRoot)}, cacheDir: ${JSON.stringify(TEST_GUEST_CACHE)}, accel: 'tcg' }).start(JSON.parse(process.argv[1]));
      process.exit(0); // the channel it holds would keep it alive, as it keeps an agent connected`;
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', starter, JSON.stringify(spec)], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(child.status, 0, child.stderr);
    await waitUntil(async () => (await readFile(spec.logPath, 'utf8').catch(() => '')).includes('ready'));
    // With no host connected, make the process end: exec reaches the guest over a fresh
    // connection, which is then dropped by hand below before the exit happens.
    const late = new MicrovmDriver({ stateRoot, cacheDir: TEST_GUEST_CACHE, accel: 'tcg' });
    await late.exec(id, { args: ['sh', '-c', '(sleep 2; touch /tmp/go) >/dev/null 2>&1 &'], timeoutMs: 10_000 });
    await dropChannelsForTest();
    await waitUntil(async () => (await readFile(spec.logPath, 'utf8').catch(() => '')).includes('bye'));
    assert.equal(await readFile(join(stateRoot, id, 'exit.json'), 'utf8').catch(() => null), null, 'no host recorded the exit yet');
    // Nobody was connected when it ended; the guest waits for an acknowledgement, so a host that comes now still reads it.
    assert.deepEqual(await late.wait(id), { exitCode: 5, signal: null });
    assert.equal(await late.status(id), 'stopped');
    await late.remove(id);
    assert.deepEqual(await microvmLeftovers(id), []);
  });

  it('reports a VMM killed by hand (a crash) as an exit with the reason, and cleans up after it', { timeout: 120_000 }, async () => {
    fixture ??= await busyboxSpecFixture(async () => null);
    const id = `k${randomBytes(6).toString('hex')}`;
    ids.push(id);
    const spec = await fixture.spec({ machineId: id, args: ['sh', '-c', 'echo ready; exec sleep 600'] });
    await driver.start(spec);
    const handle = JSON.parse(await readFile(join(stateRoot, id, 'vm', 'vm.json'), 'utf8')) as { pid: number };
    process.kill(handle.pid, 'SIGKILL');
    const exit = await driver.wait(id);
    assert.equal(exit.exitCode, null);
    assert.equal(exit.signal, 'SIGKILL');
    assert.match(exit.reason ?? '', /QEMU process was killed by SIGKILL/);
    assert.equal(await driver.status(id), 'stopped');
    assert.deepEqual(await new MicrovmDriver({ stateRoot, cacheDir: TEST_GUEST_CACHE }).wait(id), exit, 'any instance reads the same exit');
    await driver.remove(id);
    assert.equal(await driver.status(id), 'absent');
    assert.deepEqual(await microvmLeftovers(id), []);
  });
});

/** Host processes (QEMU, its supervisor) whose command line names machine `id`'s state dir. */
async function qemuProcesses(id: string): Promise<string[]> {
  const dir = join(stateRoot, id);
  const found: string[] = [];
  for (const pid of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(pid)) continue;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.split('\0').some((arg) => arg.includes(`${dir}/`))) found.push(`process ${pid}: ${cmdline.split('\0').slice(0, 3).join(' ')}`);
  }
  return found;
}

/** What of machine `id` is on the host: its processes and its state dir (disk, sockets, records). */
async function microvmLeftovers(id: string): Promise<string[]> {
  const dir = join(stateRoot, id);
  const files = await readdir(dir).then((names) => names.map((n) => `file ${join(dir, n)}`), () => []);
  return [...(await qemuProcesses(id)), ...files];
}

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
