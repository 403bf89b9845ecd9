/**
 * The routable figure again, inside a lab (see _world-lab.ts): one etcd member in each
 * region's host namespace (ams-h1, iad-h1, sin-h1), so Raft runs over the delayed
 * backbone (80, 160, 220 ms RTT), and one proxy per region in the same namespace,
 * reading from its own member. The ams proxy's process also writes (only the lab's
 * namespaces reach these addresses), so a write's commit needs the nearest quorum
 * (ams + iad) and sin sees it last.
 *
 * etcd's timing is set for the WAN, as an operator would: heartbeat 100 ms, election
 * timeout 2.5 s (etcd's guide: about the RTT, and ten times it).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LabState } from '../src/lab/index.ts';
import { measureRoutable, percentile, reply, round, stopChildren, synced } from './_world-routable.ts';

export interface LabRoutableFigures {
  samples: number;
  p50Ms: number;
  p99Ms: number;
  rtts: string;
  /** The region whose member led Raft during the run (etcdctl's view; null when it could not tell). */
  leader: string | null;
  /** From the ams proxy's namespace: a bare etcd put and linearizable get, p50 (the store's write does a transaction of several). */
  rawPutP50Ms: number;
  rawGetP50Ms: number;
}

/** Which place's member is the Raft leader now, from `etcdctl endpoint status` run in the first place's namespace. */
function leaderOf(places: readonly { code: string; ns: string; address: string }[]): string | null {
  const endpoints = places.map((p) => `http://${p.address}:2379`).join(',');
  const out = spawnSync('ip', ['netns', 'exec', places[0]!.ns, 'etcdctl', `--endpoints=${endpoints}`, 'endpoint', 'status', '-w', 'json'], { encoding: 'utf8', timeout: 10_000 });
  try {
    const rows = JSON.parse(out.stdout) as { Endpoint: string; Status: { header: { member_id: number }; leader: number } }[];
    const leader = rows.find((r) => r.Status.header.member_id === r.Status.leader);
    return places.find((p) => leader?.Endpoint.includes(p.address))?.code ?? null;
  } catch {
    return null;
  }
}

const HERE = dirname(fileURLToPath(import.meta.url));

/** Starts one etcd member in `ns`; resolves once it serves (after its peers are up: Raft needs a quorum). */
function startMember(ns: string, name: string, address: string, cluster: string, dir: string, members: ChildProcess[]): Promise<void> {
  const child = spawn(
    'ip',
    [
      'netns', 'exec', ns, 'etcd',
      `--name=${name}`,
      `--data-dir=${join(dir, name)}`,
      `--listen-client-urls=http://${address}:2379`,
      `--advertise-client-urls=http://${address}:2379`,
      `--listen-peer-urls=http://${address}:2380`,
      `--initial-advertise-peer-urls=http://${address}:2380`,
      `--initial-cluster=${cluster}`,
      '--initial-cluster-state=new',
      `--initial-cluster-token=aloft-bench-${process.pid}`,
      '--heartbeat-interval=100',
      '--election-timeout=2500',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  members.push(child);
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`etcd ${name} in ${ns} did not serve within 30 s: ${out.slice(-1000)}`)), 30_000);
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      out = (out + chunk).slice(-4000);
      if (out.includes('ready to serve client requests')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`etcd ${name} in ${ns} exited (${code}): ${out.slice(-1000)}`));
    });
  });
}

/** Measures started → routable at all three proxies with etcd spread over the lab's regions. */
export async function labRoutable(state: LabState, samples: number): Promise<LabRoutableFigures> {
  const regions = state.plan.regions.slice(0, 3);
  const places = regions.map((r) => ({ code: r.code, ns: r.hosts[0]!.ns, address: r.hosts[0]!.addresses.ipv4.far }));
  const cluster = places.map((p) => `${p.code}=http://${p.address}:2380`).join(',');
  let dir: string;
  try {
    dir = mkdtempSync('/dev/shm/aloft-bench-etcd-');
  } catch {
    dir = mkdtempSync('/tmp/aloft-bench-etcd-');
  }
  const members: ChildProcess[] = [];
  const proxies: ChildProcess[] = [];
  try {
    await Promise.all(places.map((p) => startMember(p.ns, p.code, p.address, cluster, dir, members)));
    for (const [i, p] of places.entries()) {
      const endpoints = [...places.slice(i), ...places.slice(0, i)].map((q) => `http://${q.address}:2379`);
      // `ip netns exec` execs node, which keeps the IPC descriptor fork set up.
      const child = spawn('ip', ['netns', 'exec', p.ns, process.execPath, '--import', 'tsx', join(HERE, '_world-proxy.ts'), p.code, endpoints.join(',')], {
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      proxies.push(child);
    }
    const t = Date.now();
    // Raft elects its first leader over the backbone (election timeout 2.5 s) before the proxies can read.
    await Promise.all(proxies.map((c) => reply(c, (m) => m.ready === true, 60_000)));
    process.stderr.write(`bench world: lab proxies ready in ${Date.now() - t} ms\n`);
    const writer = proxies[0]!;
    const created = reply(writer, (m) => m.created !== undefined, 120_000);
    writer.send({ create: samples + 5 });
    const { created: ids, revision } = await created;
    process.stderr.write(`bench world: lab Machines created in ${Date.now() - t} ms\n`);
    await synced(proxies, revision!);
    const times = await measureRoutable(proxies, ids!, async (id) => {
      const wrote = reply(writer, (m) => m.wrote === id);
      writer.send({ write: id });
      return (await wrote).t0!;
    });
    const rawReply = reply(writer, (m) => m.raw !== undefined, 60_000);
    writer.send({ raw: 20 });
    const { raw } = await rawReply;
    const rtt = (a: string, b: string): number | undefined => state.plan.backbone.find((l) => (l.a === a && l.b === b) || (l.a === b && l.b === a))?.rttMs;
    const codes = places.map((p) => p.code);
    const rtts = `${codes[0]}-${codes[1]} ${rtt(codes[0]!, codes[1]!)} ms, ${codes[0]}-${codes[2]} ${rtt(codes[0]!, codes[2]!)} ms, ${codes[1]}-${codes[2]} ${rtt(codes[1]!, codes[2]!)} ms`;
    return { samples: times.length, p50Ms: round(percentile(times, 50)), p99Ms: round(percentile(times, 99)), rtts, leader: leaderOf(places), rawPutP50Ms: round(raw!.putP50Ms), rawGetP50Ms: round(raw!.getP50Ms) };
  } finally {
    await stopChildren(proxies);
    await Promise.all(
      members.map(async (m) => {
        if (m.exitCode !== null || m.signalCode !== null) return;
        const exited = once(m, 'exit');
        m.kill('SIGKILL');
        await exited;
      }),
    );
    rmSync(dir, { recursive: true, force: true });
  }
}
