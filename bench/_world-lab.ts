/**
 * The failover part of bench/world.ts: a real lab (src/lab: three regions ams, iad,
 * sin; bird2 routers and anycast edges with BFD 50 ms × 3; a backbone delayed by the
 * regions' RTTs), measured from a client with a UDP probe every 5 ms:
 *
 * - drain: the ams edge withdraws (`birdc disable` of its uplinks, what EdgeAnnouncer
 *   does) — from the fault to the first probe answered by iad;
 * - bfd: the sin edge freezes (SIGSTOP: a silent death only BFD sees) — from the fault
 *   to the first probe answered by ams.
 *
 * Each is run `rounds` times (healed and converged between) and the median reported.
 * Then, in the same lab, the routable figure with etcd spread over the three regions
 * (_world-lab-routable.ts; its failure is reported, not fatal).
 * Needs root and bird2, socat and iproute2; otherwise returns why it was skipped.
 */
import { randomBytes } from 'node:crypto';
import { LAB_TOOLS, labDown, labFail, labHeal, labUp, measureFailover, waitConverged } from '../src/lab/index.ts';
import { missingTools } from '../src/platform/host-tools.ts';
import { labRoutable, type LabRoutableFigures } from './_world-lab-routable.ts';

export type LabFigures =
  | { skipped: string }
  | {
      drainMs: number;
      drainLost: number;
      bfdMs: number;
      bfdLost: number;
      rounds: number;
      drainSamples: number[];
      bfdSamples: number[];
      routable: LabRoutableFigures | { skipped: string };
    };

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function benchLab(rounds: number, routableSamples: number): Promise<LabFigures> {
  if (process.getuid?.() !== 0) return { skipped: `the lab needs root (uid ${process.getuid?.()})` };
  const missing = missingTools([...LAB_TOOLS]);
  if (missing.length > 0) return { skipped: `the lab needs ${missing.map((t) => `${t.binary} (apt-get install ${t.aptPackage})`).join(', ')}` };
  const name = `bw${randomBytes(2).toString('hex')}`;
  const drain: { ms: number; lost: number }[] = [];
  const bfd: { ms: number; lost: number }[] = [];
  let routable: LabRoutableFigures | { skipped: string };
  try {
    const state = await labUp({ name, regions: 'ams,iad,sin', hostsPerRegion: 1, platform: false });
    for (let i = 0; i < rounds; i++) {
      const drained = await measureFailover(state, 'ams', () => labFail(name, { kind: 'edge', target: 'ams' }).then(() => undefined));
      if (drained.from !== 'ams' || drained.to !== 'iad') throw new Error(`the drain moved ${drained.from} → ${drained.to}, not ams → iad`);
      drain.push({ ms: drained.failoverMs, lost: drained.lost });
      await labHeal(name);
      await waitConverged(state.plan, state.dir, 15_000);
      const frozen = await measureFailover(state, 'sin', () => labFail(name, { kind: 'edge', target: 'sin', silent: true }).then(() => undefined));
      if (frozen.from !== 'sin' || frozen.to !== 'ams') throw new Error(`the silent death moved ${frozen.from} → ${frozen.to}, not sin → ams`);
      bfd.push({ ms: frozen.failoverMs, lost: frozen.lost });
      await labHeal(name);
      await waitConverged(state.plan, state.dir, 15_000);
    }
    routable = await labRoutable(state, routableSamples).catch((err: unknown) => ({ skipped: `it failed: ${err instanceof Error ? err.message : String(err)}` }));
  } finally {
    await labDown(name).catch(() => undefined);
  }
  return {
    drainMs: median(drain.map((d) => d.ms)),
    drainLost: Math.max(...drain.map((d) => d.lost)),
    bfdMs: median(bfd.map((d) => d.ms)),
    bfdLost: median(bfd.map((d) => d.lost)),
    rounds,
    drainSamples: drain.map((d) => d.ms),
    bfdSamples: bfd.map((d) => d.ms),
    routable,
  };
}

if (process.argv[1]?.endsWith('_world-lab.ts')) console.log(JSON.stringify(await benchLab(Number(process.argv[2] ?? 3), Number(process.argv[3] ?? 60))));
