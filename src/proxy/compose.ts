import type { ProxyContext } from './context.ts';

/**
 * One step of the proxy: does its part and calls `next` to pass the request on, or
 * answers itself and does not. Its promise settles when the exchange is over, so
 * steps before it can act afterwards (metrics, replay).
 */
export type Step = (ctx: ProxyContext, next: () => Promise<void>) => Promise<void>;

/** Runs `steps` in order as one step-chain (the onion model of Koa and Hono). */
export function compose(steps: readonly Step[]): (ctx: ProxyContext) => Promise<void> {
  return (ctx) => new Chain(steps, ctx).dispatch(0);
}

/**
 * One request's walk down the chain. A class rather than closures made per request:
 * its method is shared, and tsx names every named closure as it is made (an
 * Object.defineProperty each) — this runs once per request.
 */
class Chain {
  readonly #steps: readonly Step[];
  readonly #ctx: ProxyContext;
  #index = -1;

  constructor(steps: readonly Step[], ctx: ProxyContext) {
    this.#steps = steps;
    this.#ctx = ctx;
  }

  dispatch(i: number): Promise<void> {
    if (i <= this.#index) return Promise.reject(new Error('proxy step called next() twice'));
    this.#index = i;
    const step = this.#steps[i];
    if (step === undefined) return Promise.resolve();
    try {
      return step(this.#ctx, () => this.dispatch(i + 1));
    } catch (err) {
      return Promise.reject(err);
    }
  }
}
