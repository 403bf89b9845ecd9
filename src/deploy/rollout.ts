import { AloftError } from '../lib/errors.ts';
import type { Machine, MachineConfig } from '../model/index.ts';
import type { Emit } from './events.ts';
import type { Fleet } from './fleet.ts';
import type { HealthGate, HealthOutcome } from './health-gate.ts';
import { groupOf, RELEASE_KEY, type PlannedCreate, type PlannedUpdate } from './plan.ts';

/** Log lines shown for a Machine that failed. */
export const FAILED_LOG_LINES = 20;

/** What every strategy works with. */
export interface RolloutContext {
  fleet: Fleet;
  gate: HealthGate;
  emit: Emit;
  /** How long one Machine may take to start and pass its checks ([deploy] wait_timeout). */
  waitTimeoutMs: number;
  /** The release's version, written on each Machine as metadata. */
  release: number;
  signal?: AbortSignal | undefined;
}

/** The config with this release's number in its metadata. */
export function forRelease(config: MachineConfig, release: number, extra: Record<string, string> = {}): MachineConfig {
  return { ...config, metadata: { ...config.metadata, [RELEASE_KEY]: String(release), ...extra } };
}

/**
 * Waits until the Machine's new instance is started and its checks pass. When it exits
 * (during the start or its checks) the deploy fails at once; when the wait runs out it
 * fails naming the checks that did not pass. Either way the Machine's last log lines
 * are emitted first and the error says what happened.
 */
export async function healthGate(ctx: RolloutContext, machine: Machine, what = 'machine'): Promise<void> {
  const group = groupOf(machine);
  const started = Date.now();
  const notStarted = await ctx.fleet.waitStarted(machine.id, machine.instanceId, ctx.waitTimeoutMs);
  let outcome: HealthOutcome;
  if (notStarted) {
    outcome = notStarted;
  } else {
    ctx.emit({ type: 'machine', message: `${what} ${machine.id} [${group}] started; waiting for its checks`, machine: machine.id, group, step: 'started' });
    outcome = await ctx.gate.waitHealthy(machine.id, {
      instanceId: machine.instanceId,
      timeoutMs: Math.max(1, ctx.waitTimeoutMs - (Date.now() - started)),
      ...(ctx.signal ? { signal: ctx.signal } : {}),
      onUpdate: (checks) => {
        const passing = checks.filter((c) => c.status === 'passing').length;
        ctx.emit({ type: 'health', message: `${what} ${machine.id} [${group}] checks ${passing}/${checks.length} passing`, machine: machine.id, group, checks, transient: true });
      },
    });
  }
  if (outcome.outcome === 'passing') {
    ctx.emit({ type: 'health', message: `${what} ${machine.id} [${group}] is healthy`, machine: machine.id, group, healthy: true });
    return;
  }
  const lines = await ctx.fleet.logTail(machine, FAILED_LOG_LINES, machine.updatedAt);
  ctx.emit({ type: 'logs', message: `last ${lines.length} log lines of ${machine.id}`, machine: machine.id, group, lines });
  throw unhealthy(ctx, machine, group, outcome, lines);
}

function unhealthy(ctx: RolloutContext, machine: Machine, group: string, outcome: Exclude<HealthOutcome, { outcome: 'passing' }>, lines: string[]): AloftError {
  const logs = lines.length > 0 ? `; its last log lines:\n  ${lines.slice(-10).join('\n  ')}` : '';
  const where = `machine ${machine.id} (process group ${group})`;
  if (outcome.outcome === 'exited') {
    const how = outcome.exitCode === null ? outcome.state : `${outcome.state} with exit code ${outcome.exitCode}`;
    return new AloftError('DEPLOY_FAILED', `Cannot deploy app ${ctx.fleet.appName} as ${where} must keep running through its start and checks: got it ${how}${outcome.reason ? ` (${outcome.reason})` : ''}${logs}`, {
      details: { machineId: machine.id, group, outcome: outcome.outcome, state: outcome.state, exitCode: outcome.exitCode, logs: lines },
    });
  }
  const failing = outcome.checks.filter((c) => c.status !== 'passing').map((c) => `${c.name}: ${c.status}${c.output ? ` (${c.output.trim().slice(0, 200)})` : ''}`);
  const got = outcome.checks.length === 0 ? 'it did not start in time' : `still failing: ${failing.join(', ')}`;
  return new AloftError('DEPLOY_FAILED', `Cannot deploy app ${ctx.fleet.appName} as ${where} must start and pass its checks within ${Math.round(ctx.waitTimeoutMs / 1000)}s: got ${got}${logs}`, {
    details: { machineId: machine.id, group, outcome: outcome.outcome, checks: outcome.checks, logs: lines },
  });
}

/** Updates one Machine in place, then (when it runs) waits for it to be healthy. */
export async function replaceMachine(ctx: RolloutContext, planned: PlannedUpdate, options: { gate: boolean }): Promise<Machine> {
  const { machine } = planned;
  const group = groupOf(machine);
  const { machine: updated, launched } = await ctx.fleet.update(machine, forRelease(planned.config, ctx.release), ctx.waitTimeoutMs);
  ctx.emit({
    type: 'machine',
    message: `updating ${machine.id} [${group}] to ${updated.instanceId}${launched ? '' : ` (it was stopped on purpose and stays ${updated.state})`}`,
    machine: machine.id,
    group,
    step: 'update',
    instance: updated.instanceId,
  });
  if (options.gate && launched) await healthGate(ctx, updated);
  return updated;
}

/** Creates one Machine of a group, then waits for it to be healthy. */
export async function createMachine(ctx: RolloutContext, planned: PlannedCreate, options: { gate: boolean; what?: string; extra?: Record<string, string> }): Promise<Machine> {
  const what = options.what ?? 'machine';
  const machine = await ctx.fleet.create(forRelease(planned.config, ctx.release, options.extra), planned.region);
  ctx.emit({ type: 'machine', message: `created ${what} ${machine.id} [${planned.group}] in ${machine.region}`, machine: machine.id, group: planned.group, step: 'create', instance: machine.instanceId });
  if (options.gate) await healthGate(ctx, machine, what);
  return machine;
}

/** Runs `steps` at once and waits for all; throws the first failure after every step has ended. */
export async function allSettled<T>(steps: readonly (() => Promise<T>)[]): Promise<T[]> {
  const results = await Promise.allSettled(steps.map((step) => step()));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  return results.map((r) => (r as PromiseFulfilledResult<T>).value);
}

/** Destroys the Machines of process groups the config dropped (stop, then destroy). */
export async function destroyRemoved(ctx: RolloutContext, machines: readonly Machine[]): Promise<void> {
  await allSettled(
    machines.map((machine) => async () => {
      ctx.emit({ type: 'machine', message: `destroying ${machine.id} [${groupOf(machine)}]: its process group is no longer in the config`, machine: machine.id, group: groupOf(machine), step: 'destroy' });
      await ctx.fleet.retire(machine, ctx.waitTimeoutMs);
    }),
  );
}
