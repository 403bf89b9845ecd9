import { tmpdir } from 'node:os';
import type { Clock } from '../../lib/clock.ts';
import { AloftError } from '../../lib/errors.ts';
import type { Logger } from '../../lib/log.ts';
import type { Step } from '../compose.ts';
import type { ProxyContext, ReplayAsked } from '../context.ts';
import type { RouteTable } from '../route-table.ts';
import { answer } from '../answers.ts';
import { hasRequestBody } from '../exchange.ts';
import { ReplayBody } from '../replay/body.ts';
import { readDirective, type ReplayDirective } from '../replay/directive.ts';
import { candidatesOf, fallbackTiers, planReplay, type OrgOf, type ReplayTier } from '../replay/plan.ts';
import { replayFailedHeader, replaySrcHeader, type ReplayFailure } from '../replay/src-header.ts';

/** fly-replay settings; every field has a default. */
export interface ReplaySettings {
  /** Request bodies are kept in memory up to this size, then in a temp file. Default 1 MiB. */
  memoryBytes?: number;
  /** Bodies larger than this cannot be replayed (413). Default 100 MB (Fly: 1 MB). */
  capBytes?: number;
  /** Where temp files of large bodies go. Default the OS temp dir. */
  spoolDir?: string;
  /** Replays of one request beyond this answer 508. Default 10. */
  maxHops?: number;
}

export interface ReplayStepOptions extends ReplaySettings {
  table: RouteTable;
  orgOf: OrgOf;
  clock: Clock;
  log: Logger;
}

/** Checks replay settings at startup, with the usual "Cannot … as …" messages. */
export function resolveReplaySettings(settings: ReplaySettings): Required<ReplaySettings> {
  const resolved = {
    memoryBytes: settings.memoryBytes ?? 1024 * 1024,
    capBytes: settings.capBytes ?? 100 * 1000 * 1000,
    spoolDir: settings.spoolDir ?? tmpdir(),
    maxHops: settings.maxHops ?? 10,
  };
  for (const field of ['memoryBytes', 'capBytes', 'maxHops'] as const) {
    const value = resolved[field];
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new AloftError('INVALID_ARGUMENT', `Cannot start proxy as 'replay.${field}' must be a whole number ≥ 0: got ${String(value)}`);
    }
  }
  return resolved;
}

/**
 * fly-replay (PLATFORM.md, "The proxy"): runs `inner` (forwarding), and when the
 * Machine's answer was a replay request — a `fly-replay` header, or a body of type
 * `application/vnd.fly.replay+json` — discards it and sends the same request (method,
 * path, headers, body) where it asked, with `fly-replay-src`. The target is narrowed
 * to tiers of candidates (plan.ts) and the proxy's picker chooses within each, so
 * balancing stays in one place. When no Machine of the target can be reached the
 * directive's `fallback` sends it back home with `fly-replay-failed`; without one the
 * client gets 502 with `fly-replay-failed`. A body over the cap answers 413; more
 * than `maxHops` replays answer 508. After a fallback a replay response is passed on
 * as it is (Fly: a request that hit its fallback cannot be replayed again).
 */
export function replayStep(options: ReplayStepOptions, inner: Step): Step {
  const { table, orgOf, clock, log } = options;
  const settings = resolveReplaySettings(options);
  const done = (): Promise<void> => Promise.resolve();
  return async (ctx) => {
    const length = Number(ctx.req.headers['content-length']);
    const body = hasRequestBody(ctx)
      ? new ReplayBody(ctx.req, settings, Number.isFinite(length) ? length : undefined)
      : undefined;
    ctx.body = body;
    const watch: { asked: ReplayAsked | undefined } = { asked: undefined };
    ctx.replay = watch;
    try {
      await inner(ctx, done);
      for (let hops = 1; watch.asked !== undefined; hops += 1) {
        const asked = watch.asked;
        watch.asked = undefined;
        if (hops > settings.maxHops) {
          answer(ctx, 'PROXY_REPLAY_LOOP', `Cannot replay request ${ctx.requestId} as it was replayed more than ${settings.maxHops} times (last asked by machine ${asked.entry.machineId}): a fly-replay loop`);
          return;
        }
        let directive: ReplayDirective;
        try {
          directive = readDirective(asked.headers, asked.body);
        } catch (err) {
          log.warn({ err, app: ctx.app, machine: asked.entry.machineId }, 'proxy: unreadable fly-replay');
          answer(ctx, 'PROXY_REPLAY_INVALID', `machine ${asked.entry.machineId} of app "${ctx.app}" answered with a fly-replay the edge cannot read: ${(err as Error).message}`);
          return;
        }
        if (body !== undefined) {
          const rewound = await body.rewind();
          if (rewound === 'gone') return;
          if (rewound === 'too-large') {
            answer(ctx, 'PROXY_REPLAY_TOO_LARGE', `Cannot replay request as its body must be at most ${settings.capBytes} bytes: got more than that (${body.received} so far)`, { connection: 'close' });
            return;
          }
        }
        if (directive.path !== undefined) ctx.path = directive.path;
        const src = replaySrcHeader({ instance: asked.entry.machineId, region: asked.entry.region, state: directive.state, nowMs: clock.now() });
        const extra = ['fly-replay-src', src];
        for (const [name, value] of directive.setHeaders) extra.push(name, value);
        ctx.extraHeaders = extra;
        ctx.retryBudgetMs = directive.timeoutMs;
        const plan = await planReplay(directive, asked.entry, table, orgOf);
        const reached = plan.ok && (await tryTiers(ctx, inner, table, plan.tiers));
        if (reached) continue;
        const reason: ReplayFailure = plan.ok ? 'unreachable' : plan.reason;
        const failed = replayFailedHeader({ reason, app: plan.app, regions: directive.regions, instance: directive.instance, nowMs: clock.now() });
        if (directive.fallback !== undefined) {
          // Home again, told why; what it answers goes to the client as it is.
          ctx.replay = undefined;
          ctx.retryBudgetMs = undefined;
          ctx.extraHeaders = [...extra, 'fly-replay-failed', failed];
          if (await tryTiers(ctx, inner, table, fallbackTiers(directive.fallback, asked.entry))) return;
        }
        answer(ctx, 'PROXY_REPLAY_FAILED', `Cannot replay request to app "${plan.app}" as it must have a reachable started machine matching the fly-replay of machine ${asked.entry.machineId}: ${reason}`, { 'fly-replay-failed': failed });
        return;
      }
    } finally {
      ctx.replay = undefined;
      // Only with a body: an `await` of nothing still costs the request a turn.
      if (body !== undefined) await body.dispose();
    }
  };
}

/**
 * Sends the request to the first tier with a reachable Machine. False when none was
 * (nothing was written to the client then); true once a Machine took it, whatever it
 * answered (Fly: a replay "fails" only when no connection could be made).
 */
async function tryTiers(ctx: ProxyContext, inner: Step, table: RouteTable, tiers: readonly ReplayTier[]): Promise<boolean> {
  for (const tier of tiers) {
    const routes = table.lookup(tier.app);
    if (!routes.known || candidatesOf(table, tier).length === 0) continue;
    let unreachable = false;
    ctx.app = tier.app;
    ctx.routes = routes;
    ctx.accept = tier.accept;
    ctx.onUnreachable = () => void (unreachable = true);
    try {
      await inner(ctx, () => Promise.resolve());
    } finally {
      ctx.accept = undefined;
      ctx.onUnreachable = undefined;
    }
    if (!unreachable) return true;
  }
  return false;
}
