import type { ProxyContext } from './context.ts';

/**
 * One step of the proxy: does its part and calls `next` to pass the request on, or
 * answers itself and does not. Its promise settles when the exchange is over, so
 * steps before it can act afterwards (metrics, replay).
 */
export type Step = (ctx: ProxyContext, next: () => Promise<void>) => Promise<void>;

/** Runs `steps` in order as one step-chain (the onion model of Koa and Hono). */
export function compose(steps: readonly Step[]): (ctx: ProxyContext) => Promise<void> {
  return (ctx) => {
    let index = -1;
    const dispatch = (i: number): Promise<void> => {
      if (i <= index) return Promise.reject(new Error('proxy step called next() twice'));
      index = i;
      const step = steps[i];
      if (step === undefined) return Promise.resolve();
      try {
        return step(ctx, () => dispatch(i + 1));
      } catch (err) {
        return Promise.reject(err);
      }
    };
    return dispatch(0);
  };
}
