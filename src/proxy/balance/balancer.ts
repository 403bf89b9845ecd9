import { systemClock, type Clock } from '../../lib/clock.ts';
import { invalidField } from '../../lib/errors.ts';
import type { ProxyContext } from '../context.ts';
import type { Picker } from '../picker.ts';
import type { RouteEntry } from '../route-entry.ts';
import type { RouteTable } from '../route-table.ts';
import { chooseMachine } from './choose.ts';
import { LoadTracker } from './load-tracker.ts';
import { validateRttTable, type RegionRttTable } from './region-rtt.ts';
import { DEFAULT_QUEUE_LIMITS, SlotQueue, type QueueLimits } from './slot-queue.ts';

/** How the proxy balances load over an app's Machines. */
export interface BalanceOptions {
  /** RTTs between regions, `{ "ams": { "iad": 80 } }`; the edge's own region is 0. */
  rtt?: RegionRttTable;
  /** Bounds of the wait for a Machine under its hard limit. */
  queue?: Partial<QueueLimits>;
  /** Breaks ties; in [0, 1). Default Math.random. */
  random?: () => number;
}

/**
 * The proxy's balancing state in one place: per-Machine load (LoadTracker), the
 * choice of Machine (chooseMachine, as a Picker), and the queue of requests waiting
 * for a slot, woken when a request on the app's Machines ends or its routes change.
 */
export class Balancer {
  readonly loads = new LoadTracker();
  readonly queue: SlotQueue;
  readonly picker: Picker;
  readonly #offs: (() => void)[] = [];

  constructor(table: RouteTable, region: string, options: BalanceOptions = {}, clock: Clock = systemClock) {
    const rtt = validateRttTable(options.rtt ?? {});
    const limits = { ...DEFAULT_QUEUE_LIMITS, ...options.queue };
    if (!Number.isInteger(limits.maxLength) || limits.maxLength < 0) {
      throw invalidField('configure proxy', 'queue.maxLength', 'an integer ≥ 0', limits.maxLength);
    }
    if (!Number.isFinite(limits.maxWaitMs) || limits.maxWaitMs < 0) {
      throw invalidField('configure proxy', 'queue.maxWaitMs', 'a number of milliseconds ≥ 0', limits.maxWaitMs);
    }
    this.queue = new SlotQueue(limits, clock);
    const random = options.random ?? Math.random;
    this.picker = (candidates, ctx) => {
      // One candidate (an app with one Machine, or a forced one): the full choice
      // comes to "it, unless at its hard limit", without its arrays and closures.
      if (candidates.length === 1) {
        const only = candidates[0]!;
        return this.loads.loadFor(only, ctx.req.socket) < only.concurrency.hardLimit ? only : undefined;
      }
      return chooseMachine(candidates, {
        region,
        rtt,
        random,
        loadOf: (entry) => this.loads.loadFor(entry, ctx.req.socket),
        preferRegion: ctx.steering?.preferRegion,
        preferInstance: ctx.steering?.preferInstance,
      });
    };
    this.#offs.push(
      this.loads.onRelease((entry) => this.queue.wake(entry.appName)),
      table.onChange((app) => this.queue.wakeAll(app)),
    );
  }

  /** Counts `ctx`'s request (and its client connection) on `entry`; returns the release. */
  acquire(entry: RouteEntry, ctx: ProxyContext): () => void {
    return this.loads.acquire(entry, ctx.req.socket);
  }

  /** Ends every wait and stops listening. */
  close(): void {
    for (const off of this.#offs.splice(0)) off();
    this.queue.close();
  }
}
