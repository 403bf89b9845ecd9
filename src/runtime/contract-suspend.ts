import { it } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { once } from 'node:events';
import { access, readFile } from 'node:fs/promises';
import type { Driver, RunSpec } from './driver.ts';
import { eventually, eventuallyGet, eventuallyInLog, type ContractContext } from './contract-util.ts';
import type { ContractOptions } from './contract.ts';

/** A counter held only in the shell's memory, printed every 100 ms. */
const COUNTER = 'echo start; i=0; while true; do i=$((i+1)); echo "count $i"; sleep 0.1; done';

/** Suspends as the agent does: `suspend` where the driver has it, else `pause`. */
export async function suspendLikeAgent(driver: Driver, id: string): Promise<'checkpointed' | 'paused'> {
  if (!driver.suspend) {
    await driver.pause(id);
    return 'paused';
  }
  return (await driver.suspend(id)).how;
}

/** Brings a suspended Machine back as the agent does. */
export async function resumeLikeAgent(driver: Driver, id: string): Promise<void> {
  if ((await driver.status(id)) === 'suspended') await driver.restoreFromSuspend!(id);
  else await driver.resume(id);
}

/** The last "count N" of a Machine's log. */
async function lastCount(spec: RunSpec): Promise<number> {
  const counts = [...(await readFile(spec.logPath, 'utf8')).matchAll(/^count (\d+)$/gm)].map((m) => Number(m[1]));
  return counts.at(-1) ?? 0;
}

/** Suspend without a network: the process's memory (a shell counter) survives. */
export function suspendCases(ctx: ContractContext, options: ContractOptions): void {
  it('suspends and resumes keeping the process memory (a counter in a shell loop)', { timeout: 90_000 }, async () => {
    const spec = await ctx.start({ args: ['sh', '-c', COUNTER] });
    const id = spec.machineId;
    await eventuallyInLog(spec.logPath, /^count 5$/);
    const how = await suspendLikeAgent(ctx.driver, id);
    if (options.checkpoints === true) assert.equal(how, 'checkpointed');
    assert.equal(await ctx.driver.status(id), how === 'checkpointed' ? 'suspended' : 'paused');
    const frozenAt = await lastCount(spec);
    await resumeLikeAgent(ctx.driver, id);
    assert.equal(await ctx.driver.status(id), 'running');
    await eventually('the counter goes on from where it was', async () => (await lastCount(spec)) >= frozenAt + 3);
    const text = await readFile(spec.logPath, 'utf8');
    assert.equal(text.match(/^start$/gm)?.length, 1, 'the process never restarted');
    assert.equal(text.match(/^count 1$/gm)?.length, 1, 'the counter never restarted');
    await ctx.driver.stop(id, { signal: 'SIGKILL', timeoutMs: 10_000 });
    await ctx.driver.remove(id);
  });

  it('stops and removes a checkpointed machine, its image and all', { timeout: 60_000, skip: options.checkpoints === true ? false : 'the driver does not checkpoint' }, async () => {
    const spec = await ctx.start({ args: ['sh', '-c', COUNTER] });
    const id = spec.machineId;
    await eventuallyInLog(spec.logPath, /^count 3$/);
    assert.equal((await ctx.driver.suspend!(id)).how, 'checkpointed');
    await assertSaved(spec, options);
    assert.deepEqual(await ctx.driver.stop(id, { signal: 'SIGTERM', timeoutMs: 10_000 }), { exitCode: null, signal: null });
    assert.notEqual(await ctx.driver.status(id), 'suspended', 'stop discards the image');
    await ctx.driver.remove(id);
    assert.equal(await ctx.driver.status(id), 'absent');
    if (options.suspendImage) await assert.rejects(access(options.suspendImage(spec)), 'the image is gone');
    if (options.leftovers) assert.deepEqual(await options.leftovers(spec), []);
  });
}

/** A checkpointed Machine: nothing of it runs on the host and its image exists. */
async function assertSaved(spec: RunSpec, options: ContractOptions): Promise<void> {
  if (options.processes) assert.deepEqual(await options.processes(spec), [], 'nothing of it runs while checkpointed');
  if (options.suspendImage) await access(options.suspendImage(spec));
}

/**
 * Suspend with a network (runs in the contract's networking group): a Machine with no
 * connections is checkpointed, restored, keeps its memory and serves HTTP; one with a
 * connection is frozen instead and stays alive.
 */
export function networkSuspendCases(
  ctx: ContractContext,
  options: ContractOptions,
  machine: () => Promise<{ spec: RunSpec; url: string }>,
  report: (figures: Record<string, number>) => void,
): void {
  it('checkpoints an idle machine, restores it to the same memory, and it serves HTTP', { timeout: 90_000, skip: options.checkpoints === true ? false : 'the driver does not checkpoint' }, async () => {
    const { spec, url } = await machine();
    const id = spec.machineId;
    await eventuallyInLog(spec.logPath, /^count 5$/);
    const suspendStarted = Date.now();
    const outcome = await ctx.driver.suspend!(id);
    const suspendMs = Date.now() - suspendStarted;
    assert.equal(outcome.how, 'checkpointed', JSON.stringify(outcome));
    assert.equal(await ctx.driver.status(id), 'suspended');
    assert.equal(await ctx.makeDriver().status(id), 'suspended', 'any instance sees it suspended');
    await assertSaved(spec, options);
    const frozenAt = await lastCount(spec);
    const restoreStarted = Date.now();
    await ctx.driver.restoreFromSuspend!(id);
    assert.equal(await eventuallyGet(url), 'hello from busybox\n');
    const restoreMs = Date.now() - restoreStarted;
    await eventually('the counter goes on from where it was', async () => (await lastCount(spec)) >= frozenAt + 3);
    assert.equal((await readFile(spec.logPath, 'utf8')).match(/^start$/gm)?.length, 1, 'the process never restarted');
    if (options.processes) assert.notDeepEqual(await options.processes(spec), [], 'it runs again');
    report({ checkpoint_ms: outcome.how === 'checkpointed' ? outcome.ms : NaN, suspend_ms: suspendMs, restore_to_200_ms: restoreMs });
    await ctx.driver.stop(id, { signal: 'SIGKILL', timeoutMs: 10_000 });
    await ctx.driver.remove(id);
  });

  it('checkpoints a machine with an open connection too, and it serves after restore', { timeout: 90_000, skip: options.checkpoints === true && options.checkpointsConnections === true ? false : 'its checkpoints cannot hold connections' }, async () => {
    const { spec, url } = await machine();
    const id = spec.machineId;
    await eventuallyInLog(spec.logPath, /^count 3$/);
    const { hostname, port } = new URL(url);
    const socket = connect({ host: hostname, port: Number(port) });
    socket.on('error', () => undefined);
    try {
      await once(socket, 'connect');
      assert.equal((await ctx.driver.suspend!(id)).how, 'checkpointed');
      assert.equal(await ctx.driver.status(id), 'suspended');
      await ctx.driver.restoreFromSuspend!(id);
    } finally {
      socket.destroy();
    }
    assert.equal(await eventuallyGet(url), 'hello from busybox\n', 'alive after the checkpoint');
    await ctx.driver.stop(id, { signal: 'SIGKILL', timeoutMs: 10_000 });
    await ctx.driver.remove(id);
  });

  it('freezes instead of checkpointing a machine with an open or recent connection, and it stays alive', { timeout: 90_000, skip: options.checkpoints === true && options.checkpointsConnections !== true ? false : 'the driver does not checkpoint, or its checkpoints hold connections' }, async () => {
    const { spec, url } = await machine();
    const id = spec.machineId;
    await eventuallyInLog(spec.logPath, /^count 3$/);
    // An open connection, as a proxy's pool holds one (busybox httpd waits for its request).
    const { hostname, port } = new URL(url);
    const socket = connect({ host: hostname, port: Number(port) });
    socket.on('error', () => undefined);
    try {
      await once(socket, 'connect');
      const open = await ctx.driver.suspend!(id);
      assert.equal(open.how, 'paused', JSON.stringify(open));
      assert.match(open.how === 'paused' ? open.reason : '', /open TCP connection/);
      assert.equal(await ctx.driver.status(id), 'paused');
      await ctx.driver.resume(id);
    } finally {
      socket.destroy();
    }
    assert.equal(await eventuallyGet(url), 'hello from busybox\n', 'alive after the freeze');
    // Traffic while suspend waits out the quiet period: it freezes rather than risk it.
    const traffic = setInterval(() => void eventuallyGet(url).catch(() => undefined), 100);
    try {
      const busy = await ctx.driver.suspend!(id);
      assert.equal(busy.how, 'paused', JSON.stringify(busy));
    } finally {
      clearInterval(traffic);
    }
    await ctx.driver.resume(id);
    assert.equal(await eventuallyGet(url), 'hello from busybox\n', 'alive after the second freeze');
    await ctx.driver.stop(id, { signal: 'SIGKILL', timeoutMs: 10_000 });
    await ctx.driver.remove(id);
  });
}
