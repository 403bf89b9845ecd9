/**
 * bench world: the figures of a multi-region platform on one machine.
 *
 * - routable: a Machine's `started` write → routable at each of three proxies (one per
 *   region, each its own process and etcd client) on a 3-member etcd — on loopback,
 *   with no WAN delay between the members or the proxies (`_world-routable.ts`); and,
 *   when the lab can run, the same with the three etcd members and proxies placed in
 *   the lab's three regions behind its delayed backbone (`_world-lab-routable.ts`, the
 *   Machine written from ams);
 * - failover_drain_ms / failover_bfd_ms: a real lab's anycast failover as a client sees
 *   it (`_world-lab.ts`; null, with the reason, without root or bird2);
 * - placements_per_s: 10,000 Machines over 1,000 hosts in ten regions with the
 *   scheduler's spread, one at a time against capacity, and as one batch
 *   (`_world-placements.ts`);
 * - api_write / api_watch: one Machine write, and write → watch, on SQLite, etcd ×1 and
 *   etcd ×3 (`_world-store.ts`).
 *
 * Bounded: about three minutes on a 2-core machine (most of it the lab). Prints what it measured on
 * stderr, then one JSON line. `BENCH_WORLD_SAMPLES` (default 120) sets the routable
 * samples; `BENCH_WORLD_ROUNDS` (default 3) the lab's failovers of each kind.
 */
import { cpus, loadavg } from 'node:os';
import { benchLab } from './_world-lab.ts';
import { benchPlacements } from './_world-placements.ts';
import { benchRoutable } from './_world-routable.ts';
import { benchStores } from './_world-store.ts';

const SAMPLES = Number(process.env['BENCH_WORLD_SAMPLES'] ?? 120);
const ROUNDS = Number(process.env['BENCH_WORLD_ROUNDS'] ?? 3);
const say = (line: string): void => void process.stderr.write(`bench world: ${line}\n`);

const loadBefore = loadavg()[0]!;
say(`machine: ${cpus().length} cores, load average ${loadBefore.toFixed(2)} at the start`);

const placements = benchPlacements();
say(`placement: ${placements.machines} Machines over ${placements.hosts} hosts in ${placements.regions} regions: ${placements.oneAtATimePerS}/s one at a time against capacity, ${placements.batchPerS}/s as one batch (fullest host ${Math.round(placements.fullestHostShare * 100)}% of its memory)`);

const stores = await benchStores(200);
for (const [name, f] of Object.entries(stores)) {
  say(`store ${name}: write p50 ${f.writeP50Ms} ms p99 ${f.writeP99Ms} ms; write → watch p50 ${f.watchP50Ms} ms p99 ${f.watchP99Ms} ms (${f.samples} writes)`);
}
say('(etcd on loopback, its data on tmpfs: no disk fsync and no network delay in these)');

const routable = await benchRoutable(SAMPLES);
say(`routable: started → routable at all 3 proxies, p50 ${routable.p50Ms} ms, p99 ${routable.p99Ms} ms, max ${routable.maxMs} ms (${routable.samples} Machines; 3-member etcd and 3 proxy processes ON LOOPBACK, NO WAN DELAY)`);

const lab = await benchLab(ROUNDS, Math.min(SAMPLES, 30));
const labRoutable = 'skipped' in lab ? lab : lab.routable;
if ('skipped' in lab) say(`failover: skipped, ${lab.skipped}`);
else {
  say(`failover (lab ams/iad/sin, probe every 5 ms, median of ${lab.rounds}): drain ${lab.drainMs} ms (${lab.drainSamples.join(', ')}; lost ${lab.drainLost}), silent edge by BFD ${lab.bfdMs} ms (${lab.bfdSamples.join(', ')}; lost ${lab.bfdLost})`);
}

if ('skipped' in labRoutable) say(`routable in the lab: skipped, ${labRoutable.skipped}`);
else {
  say(`routable in the lab (etcd members and proxies in ams, iad, sin; backbone RTTs ${labRoutable.rtts}; Raft leader in ${labRoutable.leader ?? 'an unknown region'}): p50 ${labRoutable.p50Ms} ms, p99 ${labRoutable.p99Ms} ms (${labRoutable.samples} Machines, written from ams); from ams a bare etcd put takes ${labRoutable.rawPutP50Ms} ms and a linearizable get ${labRoutable.rawGetP50Ms} ms (p50)`);
}

const loadAfter = loadavg()[0]!;
say(`load average ${loadAfter.toFixed(2)} at the end`);
console.log(
  JSON.stringify({
    bench: 'world',
    routable_p50_ms: routable.p50Ms,
    routable_p99_ms: routable.p99Ms,
    routable_samples: routable.samples,
    routable_where: 'loopback, no WAN delay',
    routable_lab_p50_ms: 'skipped' in labRoutable ? null : labRoutable.p50Ms,
    routable_lab_p99_ms: 'skipped' in labRoutable ? null : labRoutable.p99Ms,
    routable_lab_leader: 'skipped' in labRoutable ? null : labRoutable.leader,
    lab_etcd_put_p50_ms: 'skipped' in labRoutable ? null : labRoutable.rawPutP50Ms,
    lab_etcd_get_p50_ms: 'skipped' in labRoutable ? null : labRoutable.rawGetP50Ms,
    failover_bfd_ms: 'skipped' in lab ? null : lab.bfdMs,
    failover_drain_ms: 'skipped' in lab ? null : lab.drainMs,
    failover_bfd_lost_probes: 'skipped' in lab ? null : lab.bfdLost,
    failover_drain_lost_probes: 'skipped' in lab ? null : lab.drainLost,
    placements_per_s: placements.oneAtATimePerS,
    placements_batch_per_s: placements.batchPerS,
    api_write_p50_ms: { sqlite: stores.sqlite.writeP50Ms, etcd1: stores.etcd1.writeP50Ms, etcd3: stores.etcd3.writeP50Ms },
    api_write_p99_ms: { sqlite: stores.sqlite.writeP99Ms, etcd1: stores.etcd1.writeP99Ms, etcd3: stores.etcd3.writeP99Ms },
    api_watch_p50_ms: { sqlite: stores.sqlite.watchP50Ms, etcd1: stores.etcd1.watchP50Ms, etcd3: stores.etcd3.watchP50Ms },
    api_watch_p99_ms: { sqlite: stores.sqlite.watchP99Ms, etcd1: stores.etcd1.watchP99Ms, etcd3: stores.etcd3.watchP99Ms },
    cores: cpus().length,
    load_avg_1m: [Math.round(loadBefore * 100) / 100, Math.round(loadAfter * 100) / 100],
  }),
);
