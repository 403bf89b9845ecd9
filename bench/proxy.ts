/**
 * bench proxy: aloft's edge proxy beside nginx, on loopback, to the same upstream.
 *
 * - upstream: nginx (one process, `return 200`), so neither side pays for the app;
 * - nginx as a reverse proxy: one process, upstream keep-alive pool (`keepalive 64`,
 *   HTTP/1.1, idle timeout 4 s like aloft's pool), access log off;
 * - aloft: bench/_proxy-server.ts in its own process, on an in-memory store whose one
 *   Machine points at the upstream (concurrency `requests`, hard_limit 100000);
 * - both proxies pinned to core 0 (taskset); wrk and the upstream on the other core.
 *
 * Figures: requests/s and p50/p99 from `wrk` (64 connections, keep-alive), aloft/nginx
 * ratio, each proxy's CPU per request over its wrk run (utime + stime from /proc), p99 latency added by aloft at 50% of its saturation (a paced open-loop
 * generator, latency counted from each request's scheduled time; minus the same rate
 * straight to the upstream), the route update time (measured in the aloft process:
 * store write of `started` → first routed request) and TLS handshakes/s (null until the
 * proxy's TLS listener is part of createProxy). Needs `wrk`, `nginx` and `taskset`
 * (Debian: wrk, nginx-light, util-linux). Bounded (~40 s); kills what it starts by PID.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { connect as tlsConnect } from 'node:tls';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pacedLatencies, quantile } from './_paced.ts';
import { freePort } from '../src/lib/testing/free-port.ts';
import type { MachineService } from '../src/model/index.ts';
import { openSqliteStore } from '../src/store/index.ts';
import { sampleApp, sampleMachine } from '../src/store/testing.ts';

const WRK_SECONDS = Number(process.env['BENCH_WRK_SECONDS'] ?? 8);
const PACED_SECONDS = Number(process.env['BENCH_PACED_SECONDS'] ?? 5);
const CONNECTIONS = 64;
const HOST = 'bench.localhost';

const children: ChildProcess[] = [];
const round = (x: number, digits = 2): number => Math.round(x * 10 ** digits) / 10 ** digits;

for (const tool of ['wrk', 'nginx', 'taskset']) {
  if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) {
    console.error(`bench proxy needs ${tool} (apt install wrk nginx-light util-linux)`);
    process.exit(1);
  }
}
const twoCores = cpus().length >= 2;
const pin = (core: number, argv: string[]): string[] => (twoCores ? ['taskset', '-c', String(core), ...argv] : argv);

/** Starts `argv` as a child we own (killed by PID at the end). */
function start(argv: string[], stdio: 'ignore' | 'ipc' = 'ignore'): ChildProcess {
  const child = spawn(argv[0]!, argv.slice(1), { stdio: stdio === 'ipc' ? ['ignore', 'inherit', 'inherit', 'ipc'] : ['ignore', 'ignore', 'inherit'] });
  children.push(child);
  return child;
}

/** An nginx of its own: one process, no daemon, config and logs in `dir`. */
async function startNginx(dir: string, name: string, core: number | null, server: string, workers = 1): Promise<ChildProcess> {
  const prefix = join(dir, name);
  await writeFile(
    join(dir, `${name}.conf`),
    `worker_processes ${workers};
daemon off;
master_process ${workers === 1 ? 'off' : 'on'};
pid ${prefix}.pid;
error_log ${prefix}.error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${prefix}-body;
  proxy_temp_path ${prefix}-proxy;
  fastcgi_temp_path ${prefix}-fastcgi;
  uwsgi_temp_path ${prefix}-uwsgi;
  scgi_temp_path ${prefix}-scgi;
  keepalive_requests 1000000;
  keepalive_timeout 60s;
  ${server}
}
`,
  );
  const argv = ['nginx', '-p', dir, '-c', join(dir, `${name}.conf`)];
  return start(core === null ? argv : pin(core, argv));
}

/** Waits until 127.0.0.1:`port` answers `GET /` with Host `host` with 200. */
async function waitUp(port: number, host = HOST): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    // Not fetch: it drops a Host header, and the proxy routes by it.
    const ok = await new Promise<boolean>((resolve) => {
      const req = request({ host: '127.0.0.1', port, path: '/', headers: { host }, agent: false }, (res) => {
        res.resume();
        resolve(res.statusCode === 200);
      });
      req.on('error', () => resolve(false));
      req.end();
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing answered 200 on port ${port} within 10 s`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

interface WrkResult {
  rps: number;
  /** Requests completed in the run. */
  requests: number;
  p50Ms: number;
  p99Ms: number;
}

const ms = (value: string, unit: string): number => Number(value) * ({ us: 0.001, ms: 1, s: 1000 }[unit] ?? NaN);

/** wrk with keep-alive against `port`: from core 1 with one thread, or unpinned with two (`spread`). */
function wrk(port: number, spread = false): WrkResult {
  const argv = [...(spread ? ['wrk', '-t2'] : pin(1, ['wrk', '-t1'])), `-c${CONNECTIONS}`, `-d${WRK_SECONDS}s`, '--latency', '-H', `Host: ${HOST}`, `http://127.0.0.1:${port}/`];
  const result = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: (WRK_SECONDS + 20) * 1000 });
  const out = result.stdout ?? '';
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
  const requests = /(\d+) requests in/.exec(out);
  const p50 = /50%\s+([\d.]+)(us|ms|s)/.exec(out);
  const p99 = /99%\s+([\d.]+)(us|ms|s)/.exec(out);
  const errors = /Non-2xx or 3xx responses: (\d+)/.exec(out);
  if (!rps || !p50 || !p99 || !requests) throw new Error(`cannot read wrk's output:\n${out}\n${result.stderr}`);
  if (errors) throw new Error(`wrk saw ${errors[1]} non-2xx answers on port ${port}:\n${out}`);
  return { rps: Number(rps[1]), requests: Number(requests[1]), p50Ms: ms(p50[1]!, p50[2]!), p99Ms: ms(p99[1]!, p99[2]!) };
}

/**
 * An open-loop generator: `rate` requests/s for PACED_SECONDS over keep-alive
 * connections; each latency counts from the request's scheduled time, so a stall
 * shows (no coordinated omission). Returns p50 and p99 in ms.
 */
async function paced(port: number, rate: number): Promise<{ p50Ms: number; p99Ms: number; sent: number }> {
  const latencies = await pacedLatencies(port, { rate, seconds: PACED_SECONDS, host: HOST, connections: CONNECTIONS });
  return { p50Ms: quantile(latencies, 0.5), p99Ms: quantile(latencies, 0.99), sent: latencies.length };
}

/**
 * Full TLS handshakes per second against `port` (TLS 1.3, no session resumption): 16
 * clients connect, finish the handshake and close, again and again, for `seconds`.
 */
async function tlsHandshakes(port: number, seconds = 3): Promise<number> {
  const end = performance.now() + seconds * 1000;
  let done = 0;
  const one = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const socket = tlsConnect({ host: '127.0.0.1', port, servername: HOST, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] }, () => {
        done += 1;
        socket.destroy();
        resolve();
      });
      socket.once('error', reject);
    });
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (performance.now() < end) await one();
    }),
  );
  return done / ((performance.now() - t0) / 1000);
}

/** CPU seconds (user + system) process `pid` has used so far. */
async function cpuSeconds(pid: number): Promise<number> {
  const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ 100)
}

/** A data dir whose store has the bench app, its one Machine at `upstream` (for `aloft proxy`). */
async function benchDataDir(dir: string, upstream: number): Promise<string> {
  const dataDir = join(dir, 'data');
  await mkdir(dataDir);
  const store = await openSqliteStore({ path: join(dataDir, 'aloft.db') });
  await store.createApp(sampleApp({ name: 'bench' }));
  const service: MachineService = {
    protocol: 'tcp',
    internal_port: upstream,
    ports: [{ port: 80, handlers: ['http'] }],
    concurrency: { type: 'requests', soft_limit: 100_000, hard_limit: 100_000 },
  };
  await store.createMachine(sampleMachine({ appName: 'bench', state: 'started', addresses: { ipv4: '127.0.0.1', ipv6: 'fdaa::1' }, config: { image: 'x', services: [service] } }));
  await store.close();
  return dataDir;
}

async function main(): Promise<void> {
  if (twoCores) spawnSync('taskset', ['-a', '-cp', '1', String(process.pid)], { stdio: 'ignore' });
  const dir = await mkdtemp(join(tmpdir(), 'aloft-bench-proxy-'));
  try {
    const upstream = await freePort();
    const nginxProxy = await freePort();
    await startNginx(dir, 'upstream', 1, `server { listen 127.0.0.1:${upstream}; location / { return 200 "ok\\n"; } }`);
    const nginxOne = await startNginx(
      dir,
      'proxy',
      0,
      `upstream machine { server 127.0.0.1:${upstream}; keepalive 64; keepalive_timeout 4s; }
  server { listen 127.0.0.1:${nginxProxy}; location / { proxy_pass http://machine; proxy_http_version 1.1; proxy_set_header Connection ""; } }`,
    );
    await waitUp(upstream);
    await waitUp(nginxProxy);

    const server = fileURLToPath(new URL('./_proxy-server.ts', import.meta.url));
    const aloft = start(pin(0, [process.execPath, '--import', 'tsx', server, String(upstream)]), 'ipc');
    const ready = await new Promise<{ port: number; tlsPort: number; routeUpdateMs: number; routeUpdateMaxMs: number }>((resolve, reject) => {
      aloft.once('message', (m) => resolve(m as { port: number; tlsPort: number; routeUpdateMs: number; routeUpdateMaxMs: number }));
      aloft.once('exit', (code) => reject(new Error(`the aloft proxy process exited with ${code}`)));
    });
    await waitUp(ready.port);

    // Warm both (JIT, pools), then measure.
    for (const port of [ready.port, nginxProxy]) await paced(port, 2000).catch(() => undefined);
    // CPU per request (user + system) of each proxy process over its wrk run: steadier
    // than requests/s on a shared machine, and what "spend less per request" means.
    const cpuPerRequestUs = async (pid: number, run: () => WrkResult): Promise<[WrkResult, number]> => {
      const before = await cpuSeconds(pid);
      const result = run();
      return [result, ((await cpuSeconds(pid)) - before) * 1e6 / result.requests];
    };
    const [aloftWrk, aloftCpuUs] = await cpuPerRequestUs(aloft.pid!, () => wrk(ready.port));
    const [nginxWrk, nginxCpuUs] = await cpuPerRequestUs(nginxOne.pid!, () => wrk(nginxProxy));
    const rate = Math.max(100, Math.round(aloftWrk.rps / 2));
    const through = await paced(ready.port, rate);
    const direct = await paced(upstream, rate);
    const nginxAt = await paced(nginxProxy, rate);
    await tlsHandshakes(ready.tlsPort, 0.5); // the first makes the app's certificate
    // The client's share of a handshake costs about as much as the server's, on the
    // other core: the server's CPU per handshake is the figure that does not depend on it.
    const cpuBefore = await cpuSeconds(aloft.pid!);
    const handshakes = await tlsHandshakes(ready.tlsPort);
    const hsCpuMs = ((await cpuSeconds(aloft.pid!)) - cpuBefore) * 1000 / (handshakes * 3);
    aloft.send('stop');
    await once(aloft, 'exit');
    nginxOne.kill('SIGTERM');

    // The curve: the same on two cores (two workers each, unpinned; wrk and the upstream share them).
    const twoWorkers = await freePort();
    const nginxTwo = await freePort();
    await startNginx(
      dir,
      'proxy2',
      null,
      `upstream machine { server 127.0.0.1:${upstream}; keepalive 64; keepalive_timeout 4s; }
  server { listen 127.0.0.1:${nginxTwo}; location / { proxy_pass http://machine; proxy_http_version 1.1; proxy_set_header Connection ""; } }`,
      2,
    );
    const dataDir = await benchDataDir(dir, upstream);
    const cli = fileURLToPath(new URL('../bin/aloft.js', import.meta.url));
    start([process.execPath, cli, 'proxy', '--data-dir', dataDir, '--port', String(twoWorkers), '--no-tls', '--workers', '2', '--autostop-interval', '0']);
    await waitUp(twoWorkers);
    await waitUp(nginxTwo);
    for (const port of [twoWorkers, nginxTwo]) await paced(port, 2000).catch(() => undefined);
    const aloftTwo = wrk(twoWorkers, true);
    const nginxTwoWrk = wrk(nginxTwo, true);

    console.log(`aloft proxy: ${Math.round(aloftWrk.rps)} req/s, p50 ${aloftWrk.p50Ms} ms, p99 ${aloftWrk.p99Ms} ms (wrk, ${CONNECTIONS} connections, ${WRK_SECONDS} s)`);
    console.log(`nginx      : ${Math.round(nginxWrk.rps)} req/s, p50 ${nginxWrk.p50Ms} ms, p99 ${nginxWrk.p99Ms} ms`);
    console.log(`ratio aloft/nginx: ${round(aloftWrk.rps / nginxWrk.rps)}; CPU per request (user + system): aloft ${round(aloftCpuUs, 1)} µs, nginx ${round(nginxCpuUs, 1)} µs`);
    console.log(
      `at ${rate} req/s (50% of aloft's saturation): p99 direct ${round(direct.p99Ms)} ms, through aloft ${round(through.p99Ms)} ms, through nginx ${round(nginxAt.p99Ms)} ms`,
    );
    console.log(`route update (store write → first routed request): median ${round(ready.routeUpdateMs)} ms, max ${round(ready.routeUpdateMaxMs)} ms`);
    console.log(`TLS: ${Math.round(handshakes)} full handshakes/s (TLS 1.3, self-signed P-256 certificate, 16 clients on the other core); the proxy's CPU per handshake ${round(hsCpuMs, 3)} ms (~${Math.round(1000 / hsCpuMs)}/s on a core of its own)`);
    console.log(`cores: ${twoCores ? 'proxies pinned to core 0, wrk and upstream on core 1' : 'one core, nothing pinned'}`);
    console.log(
      `two cores, two workers each (wrk and upstream on the same cores): aloft ${Math.round(aloftTwo.rps)} req/s, nginx ${Math.round(nginxTwoWrk.rps)} req/s, ratio ${round(aloftTwo.rps / nginxTwoWrk.rps)}; aloft 2 workers / 1 worker: ${round(aloftTwo.rps / aloftWrk.rps)}`,
    );
    console.log(
      JSON.stringify({
        bench: 'proxy',
        rps: Math.round(aloftWrk.rps),
        nginx_rps: Math.round(nginxWrk.rps),
        ratio: round(aloftWrk.rps / nginxWrk.rps),
        p50_ms: aloftWrk.p50Ms,
        p99_ms: aloftWrk.p99Ms,
        nginx_p50_ms: nginxWrk.p50Ms,
        nginx_p99_ms: nginxWrk.p99Ms,
        cpu_us_per_req: round(aloftCpuUs, 1),
        nginx_cpu_us_per_req: round(nginxCpuUs, 1),
        p99_added_ms: round(through.p99Ms - direct.p99Ms),
        nginx_p99_added_ms: round(nginxAt.p99Ms - direct.p99Ms),
        paced_rps: rate,
        tls_hs_per_s: Math.round(handshakes),
        tls_server_cpu_ms_per_hs: round(hsCpuMs, 3),
        rps_2_workers: Math.round(aloftTwo.rps),
        nginx_rps_2_workers: Math.round(nginxTwoWrk.rps),
        ratio_2_workers: round(aloftTwo.rps / nginxTwoWrk.rps),
        route_update_ms: round(ready.routeUpdateMs),
      }),
    );
  } finally {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    console.error(err);
    process.exit(1);
  },
);
