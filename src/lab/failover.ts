import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { AloftError } from '../lib/errors.ts';
import type { LabState } from './lab-state.ts';
import { FAILOVER_PROBE } from './lab-scripts.ts';

/** One probe's fate: which edge answered it (null: lost). */
interface ProbeRecord {
  seq: number;
  sentMs: number;
  region: string | null;
}

/** What a client saw of an anycast failover. */
export interface FailoverResult {
  /** The edge that answered before the fault. */
  from: string;
  /** The edge that answered after it (from again if nothing moved). */
  to: string;
  /** From the fault to the first probe sent that the new edge answered, in ms. */
  failoverMs: number;
  /** Probes sent after the fault that no edge answered. */
  lost: number;
  /** Probes sent in all. */
  sent: number;
}

/**
 * Measures an anycast failover as a client sees it: from the client at `region`, a UDP
 * probe to the anycast address every `intervalMs`; `inject` runs once the first edge has
 * answered a while, and the result says when answers started coming from another edge
 * and how many probes were lost in between.
 */
export async function measureFailover(
  state: LabState,
  region: string,
  inject: () => Promise<void>,
  options: { intervalMs?: number; durationMs?: number; leadMs?: number; family?: 'ipv4' | 'ipv6' } = {},
): Promise<FailoverResult> {
  const plan = state.plan;
  const client = plan.regions.find((r) => r.code === region)?.client.ns;
  if (client === undefined) throw new AloftError('INVALID_ARGUMENT', `Cannot measure failover as 'region' must be one of the lab's: got "${region}"`);
  const address = options.family === 'ipv6' ? plan.anycast.ipv6 : plan.anycast.ipv4;
  const intervalMs = options.intervalMs ?? 5;
  const durationMs = options.durationMs ?? 2500;
  const child = spawn('ip', ['netns', 'exec', client, process.execPath, '-e', FAILOVER_PROBE, address, String(intervalMs), String(durationMs)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  const exited = once(child, 'exit');
  await once(child.stderr, 'data'); // "probe started"
  await new Promise((resolve) => setTimeout(resolve, options.leadMs ?? 300));
  const faultAt = Date.now();
  await inject();
  await exited;
  const records = out
    .trim()
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as ProbeRecord);
  return summarize(records, faultAt);
}

/** Reads probe records around a fault at `faultAt` (exported for tests of the arithmetic). */
export function summarize(records: readonly ProbeRecord[], faultAt: number): FailoverResult {
  const before = records.filter((r) => r.sentMs < faultAt && r.region !== null);
  const from = before.at(-1)?.region;
  if (from === undefined || from === null) throw new AloftError('LAB_FAILED', 'Cannot measure failover as an edge must answer before the fault: none did');
  const after = records.filter((r) => r.sentMs >= faultAt);
  const moved = after.find((r) => r.region !== null && r.region !== from);
  const horizon = moved?.sentMs ?? Number.POSITIVE_INFINITY;
  return {
    from,
    to: moved?.region ?? from,
    failoverMs: moved === undefined ? Number.NaN : moved.sentMs - faultAt,
    lost: after.filter((r) => r.region === null && r.sentMs <= horizon).length,
    sent: records.length,
  };
}
