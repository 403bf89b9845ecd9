import type { DeployPlan } from '../plan.ts';
import { allSettled, createMachine, destroyRemoved, replaceMachine, type RolloutContext } from '../rollout.ts';

/**
 * Immediate: every Machine is updated and every missing one created at once, with no
 * health wait (Fly's `immediate`); the deploy ends when the agents have the intents.
 */
export async function immediate(ctx: RolloutContext, plan: DeployPlan): Promise<void> {
  ctx.emit({ type: 'phase', message: 'immediate: all Machines at once, no health checks waited for', phase: 'all' });
  await allSettled([
    ...plan.groups.flatMap((g) => g.update).map((planned) => () => replaceMachine(ctx, planned, { gate: false })),
    ...plan.groups.flatMap((g) => g.create).map((planned) => () => createMachine(ctx, planned, { gate: false })),
  ]);
  await destroyRemoved(ctx, plan.destroy);
}
