/**
 * bench api: the Machines API's throughput and tail latency, beside a bare node:http
 * server that only parses JSON and answers, measured in the same run.
 *
 * The server under test runs in a child process (so its figures are its own core's),
 * on a SQLite file store in a temp dir, with rate limits off and an image resolver that
 * answers at once (image resolution is the image part's cost, not the API's). Several
 * client connections (an undici Pool) keep it busy: machine creates with
 * `skip_launch: true`, then gets of the created machines; each phase is bounded in time
 * and count. Prints one JSON line.
 */
import { fork, spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Pool, type Dispatcher } from 'undici';

const PHASE_MS = Number(process.env['BENCH_PHASE_MS'] ?? 8_000);
const MAX_CREATES = 40_000;
const CONNECTIONS = 16;
const IN_FLIGHT = 64;
const TOKEN = 'bench-token';

interface Phase {
  count: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
}

const percentile = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? NaN;
const round = (x: number, digits = 1): number => Math.round(x * 10 ** digits) / 10 ** digits;

/** Runs `request` from IN_FLIGHT loops over the pool until the time or count runs out. */
async function phase(request: (i: number) => Promise<void>, maxCount = Infinity): Promise<Phase> {
  const latencies: number[] = [];
  let next = 0;
  const t0 = performance.now();
  const deadline = t0 + PHASE_MS;
  const loop = async (): Promise<void> => {
    while (performance.now() < deadline && next < maxCount) {
      const i = next++;
      const start = performance.now();
      await request(i);
      latencies.push(performance.now() - start);
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, loop));
  const elapsed = (performance.now() - t0) / 1000;
  latencies.sort((a, b) => a - b);
  return { count: latencies.length, perSecond: latencies.length / elapsed, p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99) };
}

async function expect(pool: Pool, options: Dispatcher.RequestOptions, status: number): Promise<string> {
  const response = await pool.request(options);
  const text = await response.body.text();
  if (response.statusCode !== status) throw new Error(`${options.method} ${options.path}: ${response.statusCode} ${text.slice(0, 300)}`);
  return text;
}

/** Child: serves aloft's API (or the bare reference) and reports its port over IPC. */
async function serve(kind: string): Promise<void> {
  if (kind === 'bare') {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = chunks.length ? (JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown) : null;
        const out = JSON.stringify({ ok: true, got: typeof body });
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(out) });
        res.end(out);
      });
    });
    server.listen(0, '127.0.0.1', () => process.send!({ port: (server.address() as { port: number }).port }));
    process.on('disconnect', () => server.close(() => process.exit(0)));
    return;
  }
  const { createApiApp, listenApi } = await import('../src/api/index.ts');
  const { openSqliteStore } = await import('../src/store/index.ts');
  const { Scheduler } = await import('../src/scheduler/index.ts');
  const dir = await mkdtemp(join(tmpdir(), 'aloft-bench-api-'));
  const store = await openSqliteStore({ path: join(dir, 'aloft.db') });
  const images = {
    resolve: async (ref: string) => ({
      ref,
      digest: `sha256:${'b'.repeat(64)}`,
      registry: 'local',
      repository: 'bench',
      tag: 'latest',
      config: { entrypoint: ['/bin/sh'], cmd: [], env: [], workingDir: '/', user: '', exposedPorts: [8080] },
      layers: [],
    }),
  };
  const scheduler = new Scheduler([{ id: 'h1', region: 'local', number: 1, ipv4Subnet: '10.0.0.0/8', drivers: ['runsc'] }]);
  const api = await listenApi(createApiApp({ store, images, scheduler, token: TOKEN, rateLimits: false }), { host: '127.0.0.1', port: 0 });
  process.send!({ port: api.port });
  process.on('disconnect', () => {
    void api.close().then(() => store.close()).then(() => rm(dir, { recursive: true, force: true })).then(() => process.exit(0));
  });
}

async function start(kind: string): Promise<{ url: string; stop(): void }> {
  // The goal is "on one core": the server gets core 0 to itself; this process (the load)
  // moved to core 1 in main(). Without taskset both share both cores.
  const execArgv = [...process.execArgv, ...(process.env['BENCH_PROF'] ? ['--cpu-prof', '--cpu-prof-dir=bench/out'] : [])];
  const child = PINNED
    ? spawn('taskset', ['-c', '0', process.execPath, ...execArgv, fileURLToPath(import.meta.url), '--serve', kind], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    : fork(fileURLToPath(import.meta.url), ['--serve', kind], { execArgv });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (m: { port: number }) => resolve(m.port));
    child.once('exit', (code) => reject(new Error(`bench api: the ${kind} server exited with ${String(code)}`)));
  });
  return {
    url: `http://127.0.0.1:${port}`,
    // Ask it to leave (it cleans its temp dir), and make sure it does: the bench is bounded.
    stop: () => {
      child.disconnect();
      setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
    },
  };
}

/** Whether the server runs alone on core 0; set by main() when it could pin. */
let PINNED = false;

/**
 * Moves this process (the load generator) to core 1 so the server can have core 0 to
 * itself (taskset from util-linux, and at least 2 cores). `-a` moves every thread, not
 * just the main one. Called from main() only: the server runs this same file, and
 * pinning at module load moved the server onto the load generator's core.
 */
function pinLoadGenerator(): boolean {
  return cpus().length >= 2 && spawnSync('taskset', ['-a', '-cp', '1', String(process.pid)], { stdio: 'ignore' }).status === 0;
}

async function main(): Promise<void> {
  PINNED = pinLoadGenerator();
  const headers = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };
  // Explicit names: aloft's random names (adjective-noun-NNNN) collide after some thousands.
  let named = 0;
  const createBody = (): string => JSON.stringify({ name: `m${named++}`, config: { image: 'bench', guest: { cpus: 1, memory_mb: 256 }, services: [{ internal_port: 8080, ports: [{ port: 80, handlers: ['http'] }] }] }, skip_launch: true });
  const bareBody = createBody();

  const aloft = await start('aloft');
  const pool = new Pool(aloft.url, { connections: CONNECTIONS });
  const ids: string[] = [];
  let creates: Phase;
  let gets: Phase;
  try {
    await expect(pool, { method: 'POST', path: '/v1/apps', headers, body: JSON.stringify({ app_name: 'bench' }) }, 201);
    // Warm up (JIT, SQLite page cache) before measuring.
    for (let i = 0; i < 200; i++) ids.push((JSON.parse(await expect(pool, { method: 'POST', path: '/v1/apps/bench/machines', headers, body: createBody() }, 200)) as { id: string }).id);
    creates = await phase(async () => {
      ids.push((JSON.parse(await expect(pool, { method: 'POST', path: '/v1/apps/bench/machines', headers, body: createBody() }, 200)) as { id: string }).id);
    }, MAX_CREATES);
    gets = await phase(async (i) => {
      await expect(pool, { method: 'GET', path: `/v1/apps/bench/machines/${ids[i % ids.length]!}`, headers }, 200);
    });
  } finally {
    await pool.close();
    aloft.stop();
  }

  const bare = await start('bare');
  const barePool = new Pool(bare.url, { connections: CONNECTIONS });
  let bareFigures: Phase;
  try {
    bareFigures = await phase(async () => {
      await expect(barePool, { method: 'POST', path: '/', headers, body: bareBody }, 200);
    });
  } finally {
    await barePool.close();
    bare.stop();
  }

  process.stderr.write(
    `creates: ${creates.count} (p50 ${round(creates.p50Ms, 2)} ms); gets: ${gets.count} (p50 ${round(gets.p50Ms, 2)} ms); bare: ${bareFigures.count} (p99 ${round(bareFigures.p99Ms, 2)} ms); ${CONNECTIONS} connections, ${IN_FLIGHT} in flight, ${PHASE_MS} ms a phase\n`,
  );
  console.log(
    JSON.stringify({
      bench: 'api',
      creates_per_s: Math.round(creates.perSecond),
      gets_per_s: Math.round(gets.perSecond),
      create_p99_ms: round(creates.p99Ms, 2),
      get_p99_ms: round(gets.p99Ms, 2),
      bare_rps: Math.round(bareFigures.perSecond),
      server_pinned_to_one_core: PINNED,
    }),
  );
}

const serveAt = process.argv.indexOf('--serve');
if (serveAt >= 0) await serve(process.argv[serveAt + 1] ?? 'aloft');
else await main();
