/** Quotes a field value when it holds a separator, so `a=b;c` cannot read as two fields. */
function field(name: string, value: string): string {
  return /^[^;",\s]*$/.test(value) ? `${name}=${value}` : `${name}="${value.replace(/["\\]/g, '')}"`;
}

/**
 * The `fly-replay-src` header of a replayed request, as Fly writes it:
 * `instance=<machine>;region=<region>;t=<µs since the epoch>;state=<state>` (state
 * only when the directive had one).
 */
export function replaySrcHeader(source: { instance: string; region: string; state: string | undefined; nowMs: number }): string {
  const parts = [field('instance', source.instance), field('region', source.region), `t=${Math.round(source.nowMs * 1000)}`];
  if (source.state !== undefined) parts.push(field('state', source.state));
  return parts.join(';');
}

/** Why a replay failed, as `fly-replay-failed` says it. */
export type ReplayFailure = 'no_machines' | 'unreachable' | 'app_not_found' | 'instance_not_found';

/**
 * The `fly-replay-failed` header: sent to a fallback Machine with the retried request,
 * and to the client when there is no fallback. Fly documents only that it carries
 * "metadata about what went wrong"; aloft writes `reason=<why>;app=<target app>` plus
 * `region=` / `instance=` when the directive named them, and `t=` like fly-replay-src.
 */
export function replayFailedHeader(failure: {
  reason: ReplayFailure;
  app: string;
  regions: string[] | undefined;
  instance: string | undefined;
  nowMs: number;
}): string {
  const parts = [`reason=${failure.reason}`, field('app', failure.app)];
  if (failure.regions !== undefined) parts.push(field('region', failure.regions.join(',')));
  if (failure.instance !== undefined) parts.push(field('instance', failure.instance));
  parts.push(`t=${Math.round(failure.nowMs * 1000)}`);
  return parts.join(';');
}
