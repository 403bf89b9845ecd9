import { answer } from '../answers.ts';
import type { Step } from '../compose.ts';
import { forcedCandidates, isSteeringError, readSteering } from './steering.ts';

/**
 * Reads fly-force-region, fly-force-instance-id, fly-prefer-region and
 * fly-prefer-instance-id into `ctx.steering` for the picker and the forward step.
 * A malformed header is a 400; a forced region or Machine with nothing routable
 * (none there, stopped, or failing its checks) is a 503, as the client asked for
 * that target only. Runs after resolve-app, which sets `ctx.routes`.
 */
export function steerStep(): Step {
  return (ctx, next) => {
    const steering = readSteering(ctx.req.headers);
    if (steering === undefined) return next();
    if (isSteeringError(steering)) {
      answer(ctx, 'PROXY_BAD_REQUEST', `Cannot route request as '${steering.header}' must be ${steering.rule}: got ${JSON.stringify(steering.value)}`);
      return Promise.resolve();
    }
    ctx.steering = steering;
    const started = ctx.routes?.started ?? [];
    if (forcedCandidates(started, steering).length === 0) {
      const target = [
        steering.forceRegion === undefined ? '' : `region "${steering.forceRegion}"`,
        steering.forceInstance === undefined ? '' : `machine ${steering.forceInstance}`,
      ]
        .filter((s) => s !== '')
        .join(' and ');
      answer(ctx, 'PROXY_FORCED_TARGET_UNAVAILABLE', `Cannot route request to app "${ctx.app}" as the forced ${target} has no started, healthy machine`, {
        'retry-after': '1',
      });
      return Promise.resolve();
    }
    return next();
  };
}
