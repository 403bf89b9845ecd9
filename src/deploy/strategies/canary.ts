import { ROLE_KEY, type DeployPlan } from '../plan.ts';
import { createMachine, type RolloutContext } from '../rollout.ts';
import { rolling } from './rolling.ts';

/**
 * Canary: one extra Machine with the new version is created beside the old ones (in
 * the first group that has Machines, in the region of its first), health-gated, and
 * destroyed again whatever happened; only when it was healthy does a rolling deploy
 * follow. A failed canary leaves every old Machine untouched. With no Machines to
 * protect (a first deploy) there is no canary: the rolling deploy is the whole deploy.
 */
export async function canary(ctx: RolloutContext, plan: DeployPlan, maxUnavailable: number | undefined): Promise<void> {
  const group = plan.groups.find((g) => g.update.length > 0);
  const first = group?.update[0];
  if (!group || !first) {
    ctx.emit({ type: 'phase', message: 'canary: the app has no Machines yet, so there is none to protect; rolling deploy', phase: 'canary-skipped' });
    return rolling(ctx, plan, maxUnavailable);
  }
  ctx.emit({ type: 'phase', message: `canary: one new Machine in [${group.group}] first`, phase: 'canary', group: group.group });
  let canaryMachine;
  try {
    canaryMachine = await createMachine(ctx, { group: group.group, region: first.machine.region, config: first.config }, { gate: true, what: 'canary', extra: { [ROLE_KEY]: 'canary' } });
  } finally {
    // The canary goes whether it passed or not; on failure the old Machines were never touched.
    const created = canaryMachine ?? (await ctx.fleet.list()).find((m) => m.config.metadata?.[ROLE_KEY] === 'canary' && m.config.metadata['aloft_release'] === String(ctx.release));
    if (created) {
      ctx.emit({ type: 'machine', message: `destroying canary ${created.id}`, machine: created.id, group: group.group, step: 'destroy' });
      await ctx.fleet.destroy(created, ctx.waitTimeoutMs);
    }
  }
  ctx.emit({ type: 'phase', message: 'canary passed; rolling out', phase: 'canary-passed' });
  await rolling(ctx, plan, maxUnavailable);
}
