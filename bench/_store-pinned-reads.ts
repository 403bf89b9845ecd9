/**
 * Before/after figures for the etcd store's pinned reads (src/store/etcd/transaction.ts):
 * a 3-member etcd on loopback whose peer links go through relays that hold every chunk
 * DELAY ms each way (no netem here), so members are RTT = 2×DELAY apart as in a WAN; the
 * store's client talks to one member (a leader, or a follower as most writers' nearest
 * member is). "before" sends every read linearizable, as the store did (the same requests
 * without `serializable`); "pinned" keeps only a write's first read linearizable (the rest
 * serializable at its revision); "after" is the store as it is (the first read of a first
 * attempt member-local too). Prints p50/p90 of
 * createMachine and updateMachine (the write that makes a Machine routable) and the
 * ranges per write. Run: node --import tsx bench/_store-pinned-reads.ts [delayMs] [samples]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect, type Server } from 'node:net';
import { join } from 'node:path';
import { Etcd3, KVClient, type IRangeRequest } from 'etcd3';
import { openEtcdStore } from '../src/store/etcd/index.ts';
import { sampleApp, sampleMachine } from '../src/store/testing.ts';

const DELAY = Number(process.argv[2] ?? 40);
const SAMPLES = Number(process.argv[3] ?? 30);

async function freePort(): Promise<number> {
  const s = createServer();
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** A TCP relay that holds each chunk `delay` ms in both directions, order kept. */
function delayRelay(listenPort: number, targetPort: number, delay: number): Server {
  const server = createServer((inbound) => {
    const outbound = connect(targetPort, '127.0.0.1');
    const pipe = (from: typeof inbound, to: typeof inbound): void => {
      from.on('data', (chunk) => setTimeout(() => to.destroyed || to.write(chunk), delay));
      from.on('end', () => setTimeout(() => to.end(), delay));
      from.on('error', () => to.destroy());
    };
    pipe(inbound, outbound);
    pipe(outbound, inbound);
  });
  server.listen(listenPort, '127.0.0.1');
  return server;
}

const root = mkdtempSync('/dev/shm/aloft-pinned-bench-');
const members: ChildProcess[] = [];
const relays: Server[] = [];
const specs = await Promise.all([0, 1, 2].map(async (i) => ({ name: `m${i}`, client: await freePort(), peer: await freePort(), relay: await freePort() })));
const cluster = specs.map((s) => `${s.name}=http://127.0.0.1:${s.relay}`).join(',');
for (const s of specs) relays.push(delayRelay(s.relay, s.peer, DELAY));
try {
  await Promise.all(
    specs.map((s) => {
      const child = spawn('etcd', [
        `--name=${s.name}`, `--data-dir=${join(root, s.name)}`,
        `--listen-client-urls=http://127.0.0.1:${s.client}`, `--advertise-client-urls=http://127.0.0.1:${s.client}`,
        `--listen-peer-urls=http://127.0.0.1:${s.peer}`, `--initial-advertise-peer-urls=http://127.0.0.1:${s.relay}`,
        `--initial-cluster=${cluster}`, '--initial-cluster-state=new', `--initial-cluster-token=pinned-${process.pid}`,
        '--heartbeat-interval=100', '--election-timeout=2500',
      ], { stdio: ['ignore', 'ignore', 'pipe'] });
      members.push(child);
      return new Promise<void>((resolve, reject) => {
        let out = '';
        child.stderr!.on('data', (c: Buffer) => {
          out = (out + c.toString()).slice(-4000);
          if (out.includes('ready to serve client requests')) resolve();
        });
        child.once('exit', (code) => reject(new Error(`etcd ${s.name} exited ${code}: ${out}`)));
      });
    }),
  );
  const endpoints = specs.map((s) => `http://127.0.0.1:${s.client}`);
  let leader = -1;
  for (const [i, e] of endpoints.entries()) {
    const c = new Etcd3({ hosts: e });
    const st = await c.maintenance.status();
    if (st.leader === st.header.member_id) leader = i;
    c.close();
  }
  const follower = [0, 1, 2].find((i) => i !== leader)!;
  const original = KVClient.prototype.range;
  let ranges = { linearizable: 0, serializable: 0 };
  const install = (mode: 'before' | 'pinned' | 'after'): void => {
    KVClient.prototype.range = function (this: KVClient, request: IRangeRequest, options?: unknown) {
      const quorum = mode === 'before' || (mode === 'pinned' && request.revision === undefined);
      const req = quorum ? { ...request, serializable: false } : request;
      if (req.serializable === true) ranges.serializable++;
      else ranges.linearizable++;
      return original.call(this, req, options as never);
    };
  };
  const pct = (xs: number[], p: number): number => Math.round([...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]! * 10) / 10;
  const rows: Record<string, unknown>[] = [];
  for (const [where, member] of [['leader', leader], ['follower', follower]] as const) {
    for (const mode of ['before', 'pinned', 'after'] as const) {
      install(mode);
      const store = await openEtcdStore({ endpoints: [endpoints[member]!], prefix: `/bench-${where}-${mode}/` });
      const app = await store.createApp(sampleApp());
      const create: number[] = [];
      const update: number[] = [];
      ranges = { linearizable: 0, serializable: 0 };
      for (let i = 0; i < SAMPLES; i++) {
        let t = performance.now();
        const m = await store.createMachine(sampleMachine({ appName: app.name }));
        create.push(performance.now() - t);
        t = performance.now();
        await store.updateMachine(m.id, { patch: { state: 'started' }, expectVersion: m.version });
        update.push(performance.now() - t);
      }
      rows.push({ client_member: where, mode, create_p50_ms: pct(create, 50), create_p90_ms: pct(create, 90), update_p50_ms: pct(update, 50), update_p90_ms: pct(update, 90), linearizable_reads_per_write: ranges.linearizable / (2 * SAMPLES), serializable_reads_per_write: ranges.serializable / (2 * SAMPLES) });
      await store.close();
    }
  }
  KVClient.prototype.range = original;
  console.log(`peer RTT ${2 * DELAY} ms (relay ${DELAY} ms each way), ${SAMPLES} samples per row, etcd heartbeat 100 ms`);
  console.table(rows);
  console.log(JSON.stringify(rows));
} finally {
  for (const m of members) if (m.exitCode === null) { m.kill('SIGKILL'); await once(m, 'exit'); }
  for (const r of relays) r.close();
  rmSync(root, { recursive: true, force: true });
}
