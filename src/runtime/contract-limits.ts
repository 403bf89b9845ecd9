import { it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { eventually, eventuallyInLog, type ContractContext } from './contract-util.ts';
import type { ContractOptions } from './contract.ts';

/**
 * Contract cases for what a Machine may use and leave: the memory limit (OOM kill,
 * reported), the pids limit (a fork bomb is contained, the host stays responsive), log
 * order, and a remove that leaves nothing on the host.
 */
export function limitCases(ctx: ContractContext, options: ContractOptions): void {
  const { driver } = ctx;

  it('OOM-kills a process that allocates past the memory limit, and says so', { timeout: 120_000 }, async () => {
    // The main process doubles a string until it holds 256 MB (3x that at the peak): each
    // step is one allocation and a memcpy, so it meets the 64 MB limit within a few steps
    // and a second or so even under emulation. `exec`, so the OOM victim is the main process.
    const grow = 'BEGIN { s = "a"; for (i = 0; i < 28; i++) s = s s; print "survived", length(s) }';
    const spec = await ctx.start({ args: ['sh', '-c', `echo start; exec busybox awk '${grow}'`], memoryMb: 64 });
    const exit = await driver.wait(spec.machineId);
    assert.equal(exit.oomKilled, true, `exit says OOM: ${JSON.stringify(exit)}`);
    assert.equal(exit.exitCode, null);
    assert.equal(exit.signal, 'SIGKILL');
    assert.doesNotMatch(await readFile(spec.logPath, 'utf8'), /survived/);
    // Any instance (an agent restarted since) reads the same.
    assert.equal((await ctx.makeDriver().wait(spec.machineId)).oomKilled, true);
    await driver.remove(spec.machineId);
  });

  it('contains a fork bomb within the pids limit, keeps the host responsive, and stop kills it all', { timeout: 120_000 }, async (t) => {
    const spec = await ctx.start({
      args: ['sh', '-c', 'echo start; while true; do sleep 600 & done'],
      pids: options.forkBombPids ?? 64,
    });
    const id = spec.machineId;
    await eventuallyInLog(spec.logPath, /^start$/);
    // Contained: forks start failing (the shell says so) — or, for a runtime whose whole
    // sandbox is the unit (runsc), the sandbox may be ended by its limit instead.
    await eventually('the fork bomb hits the pids limit', async () => {
      const log = await readFile(spec.logPath, 'utf8');
      return /can't fork|Resource temporarily unavailable|Try again/i.test(log) || (await driver.status(id)) === 'stopped';
    }, 60_000);
    const started = Date.now();
    await new Promise<void>((resolve, reject) => execFile('sh', ['-c', 'ls /proc > /dev/null'], (err) => (err ? reject(err) : resolve())));
    const hostMs = Date.now() - started;
    assert.ok(hostMs < 3000, `a host command took ${hostMs} ms while the bomb ran`);
    // It may end at any moment (runsc's sandbox dies when its threads hit the limit).
    const processes = await driver.ps(id).catch(async (err: unknown) => {
      if ((await driver.status(id)) === 'stopped') return null;
      throw err;
    });
    if (processes === null) t.diagnostic(`the runtime ended the machine at its pids limit: ${JSON.stringify(await driver.wait(id))}`);
    else assert.ok(processes.length <= (options.forkBombPids ?? 64) + 5, `at most the limit runs: ${processes.length}`);
    await driver.stop(id, { signal: 'SIGKILL', timeoutMs: 10_000 });
    assert.equal(await driver.status(id), 'stopped');
    assert.deepEqual(await driver.ps(id).catch(() => []), [], 'nothing of it runs');
    await driver.remove(id);
  });

  it('writes stdout and stderr to the log in the order the process wrote them', { timeout: 30_000 }, async (t) => {
    const lines = 200;
    const spec = await ctx.start({
      args: ['sh', '-c', `i=1; while [ $i -le ${lines} ]; do echo "out $i"; echo "err $i" >&2; i=$((i+1)); done`],
    });
    assert.deepEqual(await driver.wait(spec.machineId), { exitCode: 0, signal: null });
    const text = await readFile(spec.logPath, 'utf8');
    const got = text.split('\n').filter((line) => /^(out|err) \d+$/.test(line));
    const want = Array.from({ length: lines }, (_, n) => [`out ${n + 1}`, `err ${n + 1}`]).flat();
    // Each stream in order, always.
    assert.deepEqual(got.filter((l) => l.startsWith('out')), want.filter((l) => l.startsWith('out')));
    assert.deepEqual(got.filter((l) => l.startsWith('err')), want.filter((l) => l.startsWith('err')));
    if (options.interleavedLogs === undefined || options.interleavedLogs === true) assert.deepEqual(got, want);
    else t.diagnostic(`stdout/stderr interleaving not checked: ${options.interleavedLogs}`);
    await driver.remove(spec.machineId);
  });

  it('leaves nothing behind once removed: no process, mount, runtime state or record', { timeout: 60_000 }, async () => {
    const spec = await ctx.start({ args: ['sh', '-c', 'echo ready; sleep 600 & sleep 600 & exec sleep 600'] });
    const id = spec.machineId;
    await eventuallyInLog(spec.logPath, /^ready$/);
    const leftovers = options.leftovers ?? (async () => []);
    const whileRunning = await leftovers(spec);
    if (options.leftovers) assert.ok(whileRunning.length > 0, 'the leftover check sees the running machine');
    await driver.stop(id, { signal: 'SIGKILL', timeoutMs: 10_000 });
    await driver.remove(id);
    assert.equal(await driver.status(id), 'absent');
    assert.ok(!(await driver.list()).includes(id));
    const mounts = (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').filter((line) => line.includes(spec.workDir));
    assert.deepEqual(mounts, [], 'no mount under the machine dir');
    assert.deepEqual(await leftovers(spec), [], 'nothing of the machine on the host');
  });
}
