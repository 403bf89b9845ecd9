import type { Machine } from '../../model/index.ts';
import type { DeployPlan } from '../plan.ts';
import { allSettled, createMachine, destroyRemoved, healthGate, type RolloutContext } from '../rollout.ts';

/**
 * Blue-green: a full new set of Machines ("green", one per old Machine and per missing
 * one, in the same regions) is created and health-gated all at once. When every green is
 * healthy, routing switches: greens are already started and routable, and the old
 * ("blue") Machines are cordoned, so the proxy sends them nothing new; then they are
 * stopped and destroyed. When any green fails, every green is destroyed and blue keeps
 * serving, untouched.
 */
export async function bluegreen(ctx: RolloutContext, plan: DeployPlan): Promise<void> {
  const blue = plan.groups.flatMap((g) => g.update.map((u) => u.machine));
  const wanted = [
    ...plan.groups.flatMap((g) => g.update.map((u) => ({ group: g.group, region: u.machine.region, config: u.config }))),
    ...plan.groups.flatMap((g) => g.create),
  ];
  ctx.emit({ type: 'phase', message: `bluegreen: creating ${wanted.length} green Machines beside ${blue.length} blue`, phase: 'green' });
  const green: Machine[] = [];
  try {
    await allSettled(
      wanted.map((planned) => async () => {
        const machine = await createMachine(ctx, planned, { gate: false, what: 'green' });
        green.push(machine);
        await healthGate(ctx, machine, 'green');
      }),
    );
  } catch (err) {
    ctx.emit({ type: 'phase', message: `bluegreen: a green Machine failed; destroying ${green.length} green, blue keeps serving`, phase: 'green-failed' });
    await allSettled(green.map((m) => () => ctx.fleet.destroy(m, ctx.waitTimeoutMs)));
    throw err;
  }
  ctx.emit({ type: 'phase', message: `bluegreen: all ${green.length} green healthy; switching routing (blue cordoned)`, phase: 'switch' });
  await allSettled(blue.map((m) => () => ctx.fleet.cordon(m)));
  await allSettled(
    blue.map((m) => async () => {
      ctx.emit({ type: 'machine', message: `stopping and destroying blue ${m.id}`, machine: m.id, step: 'destroy' });
      await ctx.fleet.retire(m, ctx.waitTimeoutMs);
    }),
  );
  await destroyRemoved(ctx, plan.destroy);
}
