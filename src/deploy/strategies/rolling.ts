import type { DeployPlan } from '../plan.ts';
import { batchSize, inBatches } from '../max-unavailable.ts';
import { allSettled, createMachine, destroyRemoved, replaceMachine, type RolloutContext } from '../rollout.ts';

/**
 * Rolling: the Machines are updated in place, `max_unavailable` at a time (default 1),
 * each batch health-gated before the next starts; then missing Machines are created
 * the same way, then Machines of dropped groups are destroyed. The first failure stops
 * the rollout: Machines already updated keep the new version (auto_rollback, when set,
 * redeploys the previous release), the rest keep the old one.
 */
export async function rolling(ctx: RolloutContext, plan: DeployPlan, maxUnavailable: number | undefined): Promise<void> {
  const updates = plan.groups.flatMap((g) => g.update);
  const creates = plan.groups.flatMap((g) => g.create);
  const size = batchSize(maxUnavailable, updates.length);
  const batches = inBatches(updates, size);
  for (const [i, batch] of batches.entries()) {
    ctx.emit({ type: 'phase', message: `rolling: batch ${i + 1}/${batches.length} (${batch.length} of ${updates.length} Machines, max_unavailable ${size})`, phase: 'batch', batch: i + 1, machines: batch.map((u) => u.machine.id) });
    await allSettled(batch.map((planned) => () => replaceMachine(ctx, planned, { gate: true })));
  }
  for (const batch of inBatches(creates, Math.max(1, size))) {
    await allSettled(batch.map((planned) => () => createMachine(ctx, planned, { gate: true })));
  }
  await destroyRemoved(ctx, plan.destroy);
}
