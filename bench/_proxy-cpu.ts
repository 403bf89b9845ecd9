/**
 * CPU per request of the edge proxy, for comparing variants within one run (rps on a
 * shared machine drifts; CPU time per request much less). Each variant is a proxy
 * child pinned to core 0 (bench/_proxy-cpu-child.ts); a raw upstream (fixed 200
 * answer, no HTTP library) runs in this process, and wrk on core 1. Rounds alternate
 * the variants; each reads the child's utime+stime from /proc before and after a
 * bounded wrk run: CPU µs per request.
 *
 *   node --import tsx bench/_proxy-cpu.ts [--rounds 4] [--seconds 5] [--conns 32]
 *     [--prof DIR] [--paced RATE] [--node-flags "--trace-gc"] name=aloft:/path/to/src name=aloft name=http
 *
 * `aloft` without a path is this tree's src/; `http` is bare node:http (Node's floor).
 * `--prof DIR` runs the children with --cpu-prof into DIR; `--paced RATE` also measures
 * open-loop latency at RATE requests/s (bench/proxy.ts's way), straight to the
 * upstream and through each variant.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { pacedLatencies, quantile } from './_paced.ts';

const args = process.argv.slice(2);
const option = (name: string, fallback: string): string => {
  const at = args.indexOf(`--${name}`);
  if (at < 0) return fallback;
  const value = args[at + 1]!;
  args.splice(at, 2);
  return value;
};
const rounds = Number(option('rounds', '4'));
const seconds = Number(option('seconds', '5'));
const conns = Number(option('conns', '32'));
const prof = option('prof', '');
const pacedRate = Number(option('paced', '0'));
/** Extra node flags for the children, space-separated (e.g. "--trace-gc"). */
const childFlags = option('node-flags', '').split(' ').filter((f) => f !== '');
const variants = args.map((a) => {
  const [name, spec] = a.split('=') as [string, string];
  const [kind, src] = spec.split(':') as [string, string | undefined];
  return { name, kind, src };
});

const RESPONSE = Buffer.from('HTTP/1.1 200 OK\r\ncontent-length: 3\r\ncontent-type: text/plain\r\n\r\nok\n');
/** The raw upstream: one fixed answer per request head (GETs without bodies). */
const upstream = createServer((socket: Socket) => {
  let tail = '';
  socket.setNoDelay(true);
  socket.on('data', (data: Buffer) => {
    const text = tail + data.toString('latin1');
    let n = 0;
    let at = 0;
    for (let i = text.indexOf('\r\n\r\n'); i >= 0; i = text.indexOf('\r\n\r\n', at)) {
      n += 1;
      at = i + 4;
    }
    tail = text.slice(at);
    if (n === 1) socket.write(RESPONSE);
    else if (n > 1) socket.write(Buffer.concat(Array.from({ length: n }, () => RESPONSE)));
  });
  socket.on('error', () => {});
});
await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
const upstreamPort = (upstream.address() as AddressInfo).port;

spawnSync('taskset', ['-a', '-cp', '1', String(process.pid)], { stdio: 'ignore' });
const childPath = fileURLToPath(new URL('./_proxy-cpu-child.ts', import.meta.url));
const children: { name: string; child: ChildProcess; port: number }[] = [];
/** [utime, stime] of `pid` in clock ticks (USER_HZ 100). */
const cpuTicks = (pid: number): [number, number] => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return [Number(fields[11]), Number(fields[12])];
};
/** wrk on core 1; asynchronous, since the upstream answers from this process's event loop. */
const wrk = async (port: number, secs: number): Promise<number> => {
  const child = spawn('taskset', ['-c', '1', 'wrk', '-t1', `-c${conns}`, `-d${secs}s`, '-H', 'Host: bench.localhost', `http://127.0.0.1:${port}/`], {
    stdio: ['ignore', 'pipe', 'inherit'],
    timeout: (secs + 15) * 1000,
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  await new Promise((r) => child.once('close', r));
  const m = /(\d+) requests in/.exec(out);
  if (/Non-2xx/.test(out) || m === null) throw new Error(`wrk on ${port}:\n${out}`);
  return Number(m[1]);
};

/**
 * Open-loop latency at `rate` requests/s for `secs` (as bench/proxy.ts measures it:
 * from each request's scheduled time): p50, p99, p99.9 and max in ms.
 */
async function paced(port: number, rate: number, secs: number): Promise<string> {
  const latencies = await pacedLatencies(port, { rate, seconds: secs, host: 'bench.localhost', connections: 64 });
  const at = (q: number): string => quantile(latencies, q).toFixed(2);
  return `p50 ${at(0.5)} p99 ${at(0.99)} p99.9 ${at(0.999)} max ${at(1)} ms (${latencies.length} requests)`;
}

try {
  for (const v of variants) {
    const argv = ['-c', '0', process.execPath, ...childFlags, ...(prof ? ['--cpu-prof', '--cpu-prof-interval', '250', '--cpu-prof-dir', `${prof}/${v.name}`] : []), '--import', 'tsx', childPath, v.kind, String(upstreamPort), ...(v.src ? [v.src] : [])];
    const child = spawn('taskset', argv, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const port = await new Promise<number>((resolve, reject) => {
      child.once('message', (m) => resolve((m as { port: number }).port));
      child.once('exit', (code) => reject(new Error(`${v.name} exited with ${code}`)));
    });
    children.push({ name: v.name, child, port });
    await wrk(port, 2); // warm: JIT, pools
  }
  const results = new Map<string, number[]>(variants.map((v) => [v.name, []]));
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? children : [...children].reverse();
    for (const { name, child, port } of order) {
      const before = cpuTicks(child.pid!);
      const requests = await wrk(port, seconds);
      const after = cpuTicks(child.pid!);
      const user = ((after[0] - before[0]) * 10_000) / requests;
      const sys = ((after[1] - before[1]) * 10_000) / requests;
      results.get(name)!.push(user + sys);
      console.log(`round ${r} ${name}: ${Math.round(requests / seconds)} req/s, ${(user + sys).toFixed(1)} µs CPU/request (user ${user.toFixed(1)}, sys ${sys.toFixed(1)})`);
    }
  }
  if (pacedRate > 0) {
    for (let r = 0; r < Math.max(2, rounds); r++) {
      console.log(`paced ${pacedRate}/s direct: ${await paced(upstreamPort, pacedRate, seconds)}`);
      for (const { name, port } of children) console.log(`paced ${pacedRate}/s ${name}: ${await paced(port, pacedRate, seconds)}`);
    }
  }
  for (const [name, list] of results) {
    const sorted = [...list].sort((a, b) => a - b);
    console.log(`${name}: median ${sorted[Math.floor(sorted.length / 2)]!.toFixed(1)} µs/request, min ${sorted[0]!.toFixed(1)} (${list.map((x) => x.toFixed(1)).join(' ')})`);
  }
} finally {
  for (const { child } of children) {
    child.send('stop');
  }
  await Promise.all(children.map(({ child }) => new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)))));
  upstream.close();
}
