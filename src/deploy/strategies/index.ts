import type { DeployStrategy } from '../../store/release-store.ts';
import type { DeployPlan } from '../plan.ts';
import type { RolloutContext } from '../rollout.ts';
import { bluegreen } from './bluegreen.ts';
import { canary } from './canary.ts';
import { immediate } from './immediate.ts';
import { rolling } from './rolling.ts';

/** Runs the plan with the strategy asked for. */
export function runStrategy(strategy: DeployStrategy, ctx: RolloutContext, plan: DeployPlan, maxUnavailable: number | undefined): Promise<void> {
  switch (strategy) {
    case 'rolling':
      return rolling(ctx, plan, maxUnavailable);
    case 'immediate':
      return immediate(ctx, plan);
    case 'canary':
      return canary(ctx, plan, maxUnavailable);
    case 'bluegreen':
      return bluegreen(ctx, plan);
  }
}

export { rolling, immediate, canary, bluegreen };
