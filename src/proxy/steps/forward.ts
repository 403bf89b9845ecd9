import type { ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { Backend } from '../backend/index.ts';
import type { Clock } from '../../lib/clock.ts';
import type { Logger } from '../../lib/log.ts';
import type { Step } from '../compose.ts';
import type { ProxyContext } from '../context.ts';
import type { ProxyMetrics } from '../metrics.ts';
import type { Picker } from '../picker.ts';
import type { RouteEntry } from '../route-entry.ts';
import type { RouteTable } from '../route-table.ts';
import { answer } from '../answers.ts';
import { ClientGone } from '../client-gone.ts';
import { exchange, hasRequestBody } from '../exchange.ts';
import { clientIp, forwardedRequestHeaders } from '../forwarded-headers.ts';
import { canRetry, isConnectFailure, type RetryPolicy } from '../retry-policy.ts';
import type { SlotQueue, SlotWait } from '../balance/slot-queue.ts';
import { forcedCandidates } from '../balance/steering.ts';

/** Told each time an attempt failed and another will be made (before any backoff). */
export interface RetryEvent {
  app: string;
  requestId: string;
  /** The Machine that failed. */
  machineId: string;
  error: Error;
  /** Attempts made so far, this one included. */
  attempts: number;
}

export interface ForwardOptions {
  table: RouteTable;
  backend: Backend;
  picker: Picker;
  retry: RetryPolicy;
  clock: Clock;
  metrics: ProxyMetrics;
  log: Logger;
  onRetry?: ((event: RetryEvent) => void) | undefined;
  /** Counts the request on the Machine it goes to (its load); returns the release. */
  acquire?: ((entry: RouteEntry, ctx: ProxyContext) => () => void) | undefined;
  /** Where a request waits while every Machine it may go to is at its hard limit. */
  queue?: SlotQueue | undefined;
}

/** How a Machine failed this request so far. */
interface Failure {
  count: number;
  /** Failed to connect (nothing sent), as opposed to a reset after dispatch. */
  connect: boolean;
}

/**
 * Passes the request to one of the app's started Machines (chosen by the picker) and
 * its response back. A failed attempt that sent nothing that matters is retried:
 * first on Machines not tried yet; then, after a reset of a pooled connection, once
 * more on the same Machine; then, for a Machine that only just started (its process
 * may not listen yet), with backoff until the policy's budget runs out. Otherwise
 * 502. The client leaving aborts the backend request.
 */
export function forwardStep(options: ForwardOptions): Step {
  const { table, backend, clock, metrics, log, onRetry } = options;
  return async (ctx) => {
    const { req, res } = ctx;
    const gone = new ClientGone();
    // One module-level listener that finds the request's ClientGone on the response:
    // no closure (and no listener wrapper, as `once` makes) per request.
    (res as GoneAware)[GONE] = gone;
    res.on('close', onResponseClose);
    try {
      const headers = forwardedRequestHeaders(req, {
        clientIp: clientIp(req),
        port: req.socket.localPort ?? 0,
        proto: (req.socket as TLSSocket).encrypted ? 'https' : 'http',
        region: ctx.region,
        requestId: ctx.requestId,
        host: ctx.host ?? '',
      });
      if (ctx.extraHeaders !== undefined) headers.push(...ctx.extraHeaders);
      const hasBody = hasRequestBody(ctx);
      const firstAt = clock.now();
      /** How each Machine failed this request; made at the first failure (most requests have none). */
      let failures: Map<string, Failure> | undefined;
      /** This request's place in the queue, once it had to wait for a slot. */
      let slot: { ticket: number; deadline: number } | undefined;
      let candidates = accepted(ctx.routes?.started ?? [], ctx, table);
      let last: { entry: RouteEntry; error: Error } | undefined;
      /** A failure not yet reported as a retry: it is one only if another attempt follows. */
      let unreported: typeof last;
      for (let attempts = 0; ; ) {
        const next = chooseNext(candidates, failures ?? NO_FAILURES, ctx, options, firstAt);
        if (next === 'busy') {
          // Every Machine it may go to is at its hard limit: wait for a slot, then choose again.
          const waited = await waitForSlot(ctx, options.queue, clock, gone, (slot ??= { ticket: 0, deadline: 0 }));
          if (waited === 'gone') return;
          if (waited !== 'woken') {
            answerAtCapacity(ctx, waited, options.queue);
            return;
          }
          candidates = accepted(currentStarted(table, ctx.app), ctx, table);
          continue;
        }
        if (next === undefined) {
          answerUnreachable(ctx, attempts, failures?.size ?? 0, last);
          return;
        }
        if (unreported !== undefined) {
          metrics.countRetry(ctx.app);
          log.debug({ err: unreported.error, app: ctx.app, machine: unreported.entry.machineId }, 'proxy: retrying');
          onRetry?.({
            app: ctx.app,
            requestId: ctx.requestId,
            machineId: unreported.entry.machineId,
            error: unreported.error,
            attempts,
          });
          unreported = undefined;
        }
        if (next.waitMs > 0) {
          await wait(clock, next.waitMs, gone);
          if (gone.gone) return;
          // It may have stopped while we waited: choose again from what is routable now.
          if (table.entry(next.entry.machineId) === undefined) {
            candidates = accepted(currentStarted(table, ctx.app), ctx, table);
            continue;
          }
        }
        attempts += 1;
        const release = options.acquire?.(next.entry, ctx);
        let result: Awaited<ReturnType<typeof exchange>>;
        try {
          result = await exchange(backend, ctx, next.entry, headers, hasBody, gone);
        } finally {
          release?.();
        }
        if (result.outcome !== 'failed') {
          if (result.outcome === 'broken') {
            log.warn({ err: result.error, app: ctx.app, machine: next.entry.machineId }, 'proxy: backend failed mid-response');
          }
          return;
        }
        if (!canRetry(result.error, result.progress)) {
          log.warn({ err: result.error, app: ctx.app, machine: next.entry.machineId }, 'proxy: backend failed');
          answer(
            ctx,
            'PROXY_BACKEND_FAILED',
            `machine ${next.entry.machineId} of app "${ctx.app}" failed before answering: ${result.error.message}`,
          );
          return;
        }
        failures ??= new Map();
        const failure = failures.get(next.entry.machineId) ?? { count: 0, connect: true };
        failure.count += 1;
        failure.connect = isConnectFailure(result.error, result.progress);
        failures.set(next.entry.machineId, failure);
        last = { entry: next.entry, error: result.error };
        unreported = last;
        // Machines may have started or stopped meanwhile.
        candidates = accepted(currentStarted(table, ctx.app), ctx, table);
      }
    } finally {
      res.off('close', onResponseClose);
      (res as GoneAware)[GONE] = undefined;
    }
  };
}

const GONE = Symbol('aloft.clientGone');
type GoneAware = ServerResponse & { [GONE]?: ClientGone | undefined };
const NO_FAILURES: ReadonlyMap<string, Failure> = new Map();

/** The response closed: unless it finished, the client went away. */
function onResponseClose(this: ServerResponse): void {
  if (!this.writableFinished) (this as GoneAware)[GONE]?.fire();
}

/**
 * The candidates the request may go to: a replay narrows the choice to its target
 * (ctx.accept) and fly-force-region / fly-force-instance-id narrow it too
 * (ctx.steering); the picker still chooses among them.
 */
function accepted(list: readonly RouteEntry[], ctx: ProxyContext, table: RouteTable): readonly RouteEntry[] {
  let forced = forcedCandidates(list, ctx.steering);
  // Routes taken before autostop began draining a Machine must not reach it now.
  if (forced.some((c) => table.isDraining(c.machineId))) forced = forced.filter((c) => !table.isDraining(c.machineId));
  return ctx.accept === undefined ? forced : forced.filter(ctx.accept);
}

/** The next Machine to try and how long to wait first, or undefined to give up. */
function chooseNext(
  candidates: readonly RouteEntry[],
  failures: ReadonlyMap<string, Failure>,
  ctx: ProxyContext,
  options: ForwardOptions,
  firstAt: number,
): { entry: RouteEntry; waitMs: number } | 'busy' | undefined {
  const { picker, retry, clock } = options;
  if (candidates.length === 0) return undefined;
  if (failures.size === 0) return pickOrBusy(picker, candidates, ctx);
  // A Machine that failed this request is never chosen again while another is untried.
  const untried = candidates.filter((c) => !failures.has(c.machineId));
  if (untried.length > 0) return pickOrBusy(picker, untried, ctx);
  // A reset after dispatch is most often a pooled connection the backend had just
  // closed: one fresh try on the same Machine.
  const reset = candidates.filter((c) => {
    const f = failures.get(c.machineId);
    return f !== undefined && !f.connect && f.count === 1;
  });
  const again = reset.length > 0 ? picker(reset, ctx) : undefined;
  if (again !== undefined) return { entry: again, waitMs: 0 };
  const now = clock.now();
  const left = firstAt + (ctx.retryBudgetMs ?? retry.budgetMs) - now;
  if (left <= 0) return undefined;
  const warming = candidates.filter((c) => failures.get(c.machineId)?.connect === true && now - c.startedAt < retry.justStartedMs);
  if (warming.length === 0) return undefined;
  const entry = picker(warming, ctx);
  if (entry === undefined) return undefined;
  const count = failures.get(entry.machineId)?.count ?? 1;
  return { entry, waitMs: Math.min(left, retry.backoffMs(count)) };
}

/** The picker's choice to try at once; 'busy' when all it was given are at their hard limit. */
function pickOrBusy(picker: Picker, list: readonly RouteEntry[], ctx: ProxyContext): { entry: RouteEntry; waitMs: number } | 'busy' {
  const entry = picker(list, ctx);
  return entry === undefined ? 'busy' : { entry, waitMs: 0 };
}

function answerUnreachable(
  ctx: ProxyContext,
  attempts: number,
  machines: number,
  last: { entry: RouteEntry; error: Error } | undefined,
): void {
  const detail =
    last === undefined
      ? 'no started machine is left'
      : `last error from machine ${last.entry.machineId} at ${last.entry.origin.slice('http://'.length)}: ${last.error.message}`;
  if (ctx.onUnreachable !== undefined) {
    ctx.onUnreachable(detail);
    return;
  }
  answer(
    ctx,
    'PROXY_BACKEND_UNREACHABLE',
    `Cannot reach app "${ctx.app}": no started machine accepted the request ` +
      `(${attempts} attempt${attempts === 1 ? '' : 's'} on ${machines} machine${machines === 1 ? '' : 's'}; ${detail})`,
  );
}

/** Waits in the app's queue for a Machine under its hard limit; 'full' at once without a queue. */
function waitForSlot(
  ctx: ProxyContext,
  queue: SlotQueue | undefined,
  clock: Clock,
  gone: ClientGone,
  slot: { ticket: number; deadline: number },
): Promise<SlotWait> {
  if (queue === undefined) return Promise.resolve('full');
  const again = slot.ticket !== 0;
  if (!again) {
    slot.ticket = queue.ticket();
    slot.deadline = clock.now() + queue.limits.maxWaitMs;
  }
  return queue.wait(ctx.app, slot.deadline, gone, slot.ticket, again);
}

function answerAtCapacity(ctx: ProxyContext, waited: SlotWait, queue: SlotQueue | undefined): void {
  const why =
    waited === 'timeout'
      ? `no slot freed within ${queue?.limits.maxWaitMs ?? 0} ms`
      : waited === 'closed'
        ? 'the proxy is shutting down'
        : `the queue of ${queue?.limits.maxLength ?? 0} waiting requests is full`;
  answer(ctx, 'PROXY_AT_CAPACITY', `Cannot route request to app "${ctx.app}" as every machine is at its hard_limit and ${why}`, {
    'retry-after': '1',
  });
}

function currentStarted(table: RouteTable, app: string): readonly RouteEntry[] {
  const routes = table.lookup(app);
  return routes.known ? routes.started : [];
}

/** Resolves after `ms`, or at once when the client goes. */
function wait(clock: Clock, ms: number, gone: ClientGone): Promise<void> {
  return new Promise((resolve) => {
    const timer = clock.setTimeout(() => {
      gone.unlisten();
      resolve();
    }, ms);
    gone.listen(() => {
      timer.cancel();
      resolve();
    });
  });
}
