/**
 * bench dns: queries per second and tail latency of aloft's private DNS server for a
 * `.internal` name (AAAA, three started Machines) over UDP.
 *
 * The server runs in a child process (pinned to core 0 when taskset and two cores are
 * there; this process, the load, moves to core 1) on an in-memory store. The load comes
 * from a 6PN source address put on loopback for the run (root; without it the queries
 * come from ::1 and get NXDOMAIN, which the JSON says), from SOCKETS sockets keeping
 * IN_FLIGHT queries outstanding each, for PHASE_MS after a warm-up. A query unanswered
 * after a second counts as lost and is replaced. Besides qps (which depends on what else
 * runs on the cores) it reports the server's CPU time per query, which does not.
 * Prints one JSON line.
 */
import { fork, spawn, spawnSync } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';

const PHASE_MS = Number(process.env['BENCH_PHASE_MS'] ?? 5_000);
const WARMUP_MS = 1_000;
const SOCKETS = 4;
const IN_FLIGHT = 32;
const NAME = 'web.internal';

/** Child: the DNS server on an in-memory store; reports its port and a Machine's address. */
async function serve(): Promise<void> {
  const { openSqliteStore } = await import('../src/store/index.ts');
  const { startDnsServer } = await import('../src/dns/index.ts');
  const { dnsMachine, seedTwoOrgs } = await import('../src/dns/testing/fixtures.ts');
  const store = await openSqliteStore({ path: ':memory:' });
  const nets = await seedTwoOrgs(store);
  const machines = [];
  for (const region of ['ams', 'iad', 'syd']) machines.push(await store.createMachine(dnsMachine('web', nets.acme, { region })));
  const dns = await startDnsServer({ store, host: '::1', port: 0, region: 'ams', upstream: null, rateLimit: false });
  process.send!({ port: dns.port, source: machines[0]!.addresses!.ipv6 });
  // CPU time on request: the figure that holds when other work shares the cores.
  process.on('message', (m) => {
    if (m === 'cpu') {
      const { user, system } = process.cpuUsage();
      process.send!({ cpuUs: user + system });
    }
  });
  process.on('disconnect', () => {
    void dns.close().then(() => store.close()).then(() => process.exit(0));
  });
}

let PINNED = false;

async function startServer(): Promise<{ port: number; source: string; cpuUs(): Promise<number>; stop(): void }> {
  const child = PINNED
    ? spawn('taskset', ['-c', '0', process.execPath, ...process.execArgv, fileURLToPath(import.meta.url), '--serve'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    : fork(fileURLToPath(import.meta.url), ['--serve'], { execArgv: process.execArgv });
  const ready = await new Promise<{ port: number; source: string }>((resolve, reject) => {
    child.once('message', (m: { port: number; source: string }) => resolve(m));
    child.once('exit', (code) => reject(new Error(`bench dns: the server exited with ${String(code)}`)));
  });
  return {
    ...ready,
    cpuUs: () =>
      new Promise((resolve) => {
        const on = (m: { cpuUs?: number }): void => {
          if (m.cpuUs === undefined) return;
          child.off('message', on);
          resolve(m.cpuUs);
        };
        child.on('message', on);
        child.send('cpu');
      }),
    stop: () => {
      child.disconnect();
      setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
    },
  };
}

/** The query's bytes for `id`: header (RD), one question, no EDNS. */
function query(id: number): Buffer {
  const labels = NAME.split('.').flatMap((l) => [Buffer.from([l.length]), Buffer.from(l)]);
  const out = Buffer.concat([Buffer.from([0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]), ...labels, Buffer.from([0, 0, 28, 0, 1])]);
  out.writeUInt16BE(id, 0);
  return out;
}

interface Load {
  answered: number;
  lost: number;
  wrong: number;
  latencies: number[];
}

/** Keeps IN_FLIGHT queries outstanding on each socket until `ms` have passed. */
async function load(port: number, source: string | undefined, ms: number): Promise<Load & { seconds: number }> {
  const result: Load = { answered: 0, lost: 0, wrong: 0, latencies: [] };
  const sockets: Socket[] = [];
  const t0 = performance.now();
  const deadline = t0 + ms;
  let done!: () => void;
  const finished = new Promise<void>((resolve) => (done = resolve));
  let open = SOCKETS;
  for (let s = 0; s < SOCKETS; s++) {
    const socket = createSocket('udp6');
    sockets.push(socket);
    const sent = new Map<number, number>();
    let next = 0;
    const send = (): void => {
      const id = (next = (next + 1) & 0xffff);
      sent.set(id, performance.now());
      socket.send(query(id), port, '::1');
    };
    socket.on('message', (msg) => {
      const id = msg.readUInt16BE(0);
      const at = sent.get(id);
      if (at === undefined) return;
      sent.delete(id);
      const now = performance.now();
      result.latencies.push(now - at);
      // AAAA with three answers (ANCOUNT 3, RCODE 0) is the only right reply.
      if (msg.readUInt16BE(6) !== 3 || (msg[3]! & 0xf) !== 0) result.wrong++;
      else result.answered++;
      if (now < deadline) send();
      else if (sent.size === 0 && --open === 0) done();
    });
    const sweep = setInterval(() => {
      const now = performance.now();
      for (const [id, at] of sent) {
        if (now - at < 1000) continue;
        sent.delete(id);
        result.lost++;
        if (now < deadline) send();
      }
      if (now >= deadline && sent.size === 0 && open > 0) {
        clearInterval(sweep);
        if (--open === 0) done();
      }
    }, 100);
    socket.once('close', () => clearInterval(sweep));
    await new Promise<void>((resolve) => socket.bind({ port: 0, ...(source === undefined ? {} : { address: source }) }, () => resolve()));
    for (let i = 0; i < IN_FLIGHT; i++) send();
  }
  await finished;
  const seconds = (performance.now() - t0) / 1000;
  for (const socket of sockets) socket.close();
  return { ...result, seconds };
}

const percentile = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? NaN;
const round = (x: number, digits = 2): number => Math.round(x * 10 ** digits) / 10 ** digits;

async function main(): Promise<void> {
  PINNED = cpus().length >= 2 && spawnSync('taskset', ['-a', '-cp', '1', String(process.pid)], { stdio: 'ignore' }).status === 0;
  const server = await startServer();
  let removeAddress: (() => Promise<void>) | undefined;
  try {
    if (process.getuid?.() === 0) {
      const { addLoopbackAddress } = await import('../src/dns/testing/fixtures.ts');
      removeAddress = await addLoopbackAddress(server.source);
    }
    const source = removeAddress === undefined ? undefined : server.source;
    await load(server.port, source, WARMUP_MS);
    const cpuBefore = await server.cpuUs();
    const run = await load(server.port, source, PHASE_MS);
    const cpuUsPerQuery = (await server.cpuUs()) - cpuBefore;
    run.latencies.sort((a, b) => a - b);
    const qps = run.answered / run.seconds;
    process.stderr.write(
      `${run.answered} answered, ${run.lost} lost, ${run.wrong} wrong in ${round(run.seconds)} s; p50 ${round(percentile(run.latencies, 50), 3)} ms; ${SOCKETS} sockets × ${IN_FLIGHT} in flight; server pinned: ${PINNED}\n`,
    );
    console.log(
      JSON.stringify({
        bench: 'dns',
        qps: Math.round(qps),
        p50_ms: round(percentile(run.latencies, 50), 3),
        p99_ms: round(percentile(run.latencies, 99), 3),
        server_cpu_us_per_query: round(cpuUsPerQuery / Math.max(1, run.answered + run.wrong), 1),
        lost: run.lost,
        wrong: run.wrong,
        from_6pn_source: source !== undefined,
        server_pinned_to_one_core: PINNED,
      }),
    );
  } finally {
    await removeAddress?.();
    server.stop();
  }
}

if (process.argv.includes('--serve')) await serve();
else await main();
