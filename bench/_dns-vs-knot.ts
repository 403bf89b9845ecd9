/**
 * DNS queries/s of aloft's private DNS server against Knot (Debian `knot`) serving the
 * same records, both measured by `dnsperf` (Debian) in the same run: the AAAA of
 * `web.internal` (three started Machines), over UDP, each server pinned to core 0 in
 * turn and dnsperf on core 1. aloft answers `.internal` only to a 6PN source of the
 * app's org, so dnsperf sends from one (put on loopback for the run; root). Used by
 * bench/net.ts; `null` with the reason when knotd, dnsperf or root is missing.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../src/lib/testing/free-port.ts';

const SECONDS = Number(process.env['BENCH_DNS_SECONDS'] ?? 5);

export interface DnsVsKnot {
  dns_qps: number;
  knot_qps: number;
  dns_vs_knot: number;
  dns_lost: number;
  knot_lost: number;
}

const has = (tool: string): boolean => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;

/** Runs both servers and dnsperf against each; null (and why) when it cannot. */
export async function dnsVsKnot(): Promise<{ result: DnsVsKnot | null; why?: string }> {
  if (process.getuid?.() !== 0) return { result: null, why: 'needs root (a 6PN source address on loopback)' };
  for (const tool of ['knotd', 'dnsperf']) if (!has(tool)) return { result: null, why: `needs ${tool} (apt-get install knot dnsperf)` };
  const pin = cpus().length >= 2 && has('taskset');
  const onCore = (core: number, argv: string[]): string[] => (pin ? ['taskset', '-c', String(core), ...argv] : argv);
  const dir = await mkdtemp(join(tmpdir(), 'aloft-bench-knot-'));
  const children: ChildProcess[] = [];
  const { openSqliteStore } = await import('../src/store/index.ts');
  const { dnsMachine, seedTwoOrgs, addLoopbackAddress } = await import('../src/dns/testing/fixtures.ts');
  let removeAddress: (() => Promise<void>) | undefined;
  try {
    // The records both servers hold: a store file for aloft, a zone file for Knot.
    const dbPath = join(dir, 'aloft.db');
    const store = await openSqliteStore({ path: dbPath });
    const nets = await seedTwoOrgs(store);
    const addresses: string[] = [];
    for (const region of ['ams', 'iad', 'syd']) addresses.push((await store.createMachine(dnsMachine('web', nets.acme, { region }))).addresses!.ipv6);
    await store.close();
    const source = addresses[0]!;
    removeAddress = await addLoopbackAddress(source);
    await writeFile(join(dir, 'queries'), 'web.internal AAAA\n');

    // aloft: its DNS server on the store file (bench/_dns-child.ts), without forwarding or rate limit.
    const aloftPort = await freePort();
    const child = new URL('./_dns-child.ts', import.meta.url).pathname;
    const aloftArgv = onCore(0, [process.execPath, '--import', 'tsx', child, dbPath, String(aloftPort)]);
    const aloft = spawn(aloftArgv[0]!, aloftArgv.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(aloft);
    await waitFor(aloft, /is up/);
    const dns = perf(aloftPort, source, dir, onCore);
    aloft.kill('SIGTERM');
    await once(aloft, 'exit');

    // Knot: one UDP worker, the same three AAAA records in zone `internal.`.
    const knotPort = await freePort();
    await writeFile(
      join(dir, 'internal.zone'),
      ['$ORIGIN internal.', '$TTL 5', '@ SOA ns.internal. hostmaster.internal. 1 3600 600 86400 5', '@ NS ns.internal.', 'ns AAAA ::1', ...addresses.map((a) => `web AAAA ${a}`), ''].join('\n'),
    );
    await writeFile(
      join(dir, 'knot.conf'),
      `server:\n  rundir: "${dir}"\n  listen: ::1@${knotPort}\n  udp-workers: 1\n  tcp-workers: 1\n  background-workers: 1\ndatabase:\n  storage: "${dir}"\nlog:\n  - target: stderr\n    any: error\nzone:\n  - domain: internal.\n    storage: "${dir}"\n    file: "internal.zone"\n`,
    );
    const knotArgv = onCore(0, ['knotd', '-c', join(dir, 'knot.conf')]);
    const knot = spawn(knotArgv[0]!, knotArgv.slice(1), { stdio: ['ignore', 'ignore', 'inherit'] });
    children.push(knot);
    await waitForAnswer(knotPort, source, dir, onCore);
    const knotResult = perf(knotPort, source, dir, onCore);
    knot.kill('SIGTERM');
    await once(knot, 'exit');
    return {
      result: {
        dns_qps: Math.round(dns.qps),
        knot_qps: Math.round(knotResult.qps),
        dns_vs_knot: Math.round((dns.qps / knotResult.qps) * 100) / 100,
        dns_lost: dns.lost,
        knot_lost: knotResult.lost,
      },
    };
  } finally {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await removeAddress?.();
    await rm(dir, { recursive: true, force: true });
  }
}

/** dnsperf from core 1 for SECONDS: queries/s and lost queries. */
function perf(port: number, source: string, dir: string, onCore: (core: number, argv: string[]) => string[]): { qps: number; lost: number } {
  const argv = onCore(1, ['dnsperf', '-s', '::1', '-p', String(port), '-a', source, '-d', join(dir, 'queries'), '-l', String(SECONDS), '-c', '8', '-q', '200', '-t', '2']);
  const run = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: (SECONDS + 20) * 1000 });
  const qps = /Queries per second:\s+([\d.]+)/.exec(run.stdout ?? '');
  const lost = /Queries lost:\s+(\d+)/.exec(run.stdout ?? '');
  const noerror = /NOERROR (\d+)/.exec(run.stdout ?? '');
  if (qps === null || noerror === null) throw new Error(`cannot read dnsperf's output:\n${run.stdout}\n${run.stderr}`);
  return { qps: Number(qps[1]), lost: Number(lost?.[1] ?? 0) };
}

/** Resolves once `child` prints a line matching `pattern` on stdout. */
async function waitFor(child: ChildProcess, pattern: RegExp): Promise<void> {
  let out = '';
  for (;;) {
    if (pattern.test(out)) return;
    if (child.exitCode !== null) throw new Error(`the DNS server exited early: ${out}`);
    const [chunk] = (await once(child.stdout!, 'data')) as [Buffer];
    out += chunk.toString();
  }
}

/** Resolves once the server on `port` answers one query (Knot loads its zone after it starts). */
async function waitForAnswer(port: number, source: string, dir: string, onCore: (core: number, argv: string[]) => string[]): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const argv = onCore(1, ['dnsperf', '-s', '::1', '-p', String(port), '-a', source, '-d', join(dir, 'queries'), '-n', '1', '-t', '1']);
    const run = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: 5000 });
    if (/NOERROR 1/.test(run.stdout ?? '')) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`the DNS server on port ${port} did not answer within 10 s`);
}
