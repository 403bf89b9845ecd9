/**
 * The routable part of bench/world.ts: a 3-member etcd (startTestEtcd, loopback) and
 * three proxies, one per "region", each in its own process with its own etcd client.
 * For each sample a stopped Machine is written `started` (updateMachine, as the agent
 * does) and the time is taken until every proxy's route table can route it (the
 * slowest of the three, each stamped in its own process on the shared clock).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openEtcdStore } from '../src/store/etcd/index.ts';
import { startTestEtcd } from '../src/store/etcd/testing.ts';
import { sampleApp, sampleMachine } from '../src/store/testing.ts';

export interface RoutableFigures {
  samples: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export type Reply = { ready?: true; subscribed?: string; routable?: string; at?: number; revision?: number; created?: string[]; wrote?: string; t0?: number; raw?: { putP50Ms: number; getP50Ms: number } };

const HERE = dirname(fileURLToPath(import.meta.url));
const REGIONS = ['ams', 'iad', 'sin'];
export const percentile = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? NaN;
export const round = (x: number): number => Math.round(x * 100) / 100;

/** Resolves with the first message from `child` that `match` accepts. */
export function reply(child: ChildProcess, match: (m: Reply) => boolean, timeoutMs = 10_000): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`a proxy did not answer within ${timeoutMs} ms`)), timeoutMs);
    const onMessage = (m: Reply): void => {
      if (match(m)) done(undefined, m);
    };
    const onExit = (): void => done(new Error('a proxy exited'));
    function done(err: Error | undefined, m?: Reply): void {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
      if (err) reject(err);
      else resolve(m!);
    }
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

/**
 * For each Machine in `ids`: every proxy subscribed first, then `write` (resolving with
 * when it began, on the shared clock), then the time until the slowest proxy could
 * route it. The first five are warm-up and not counted. Sorted.
 */
export async function measureRoutable(children: readonly ChildProcess[], ids: readonly string[], write: (id: string) => Promise<number>): Promise<number[]> {
  const times: number[] = [];
  for (const [i, id] of ids.entries()) {
    await Promise.all(
      children.map(async (c) => {
        const subscribed = reply(c, (m) => m.subscribed === id);
        c.send({ watch: id });
        await subscribed;
      }),
    );
    const routable = children.map((c) => reply(c, (m) => m.routable === id));
    const t0 = await write(id);
    const at = await Promise.all(routable);
    if (i >= 5) times.push(Math.max(...at.map((m) => m.at!)) - t0);
  }
  return times.sort((a, b) => a - b);
}

/** Asks every proxy to wait until its table has seen `revision`. */
export async function synced(children: readonly ChildProcess[], revision: number): Promise<void> {
  await Promise.all(
    children.map(async (c) => {
      const seen = reply(c, (m) => m.revision === revision);
      c.send({ revision });
      await seen;
    }),
  );
}

/** Stops each proxy child (SIGKILL after 5 s). */
export async function stopChildren(children: readonly ChildProcess[]): Promise<void> {
  await Promise.all(
    children.map(async (c) => {
      if (c.exitCode !== null || c.signalCode !== null) return;
      const exited = once(c, 'exit');
      c.send({ stop: true });
      const timer = setTimeout(() => c.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }),
  );
}

export async function benchRoutable(samples: number): Promise<RoutableFigures> {
  const cluster = await startTestEtcd({ members: 3 });
  const children: ChildProcess[] = [];
  try {
    for (const [i, region] of REGIONS.entries()) {
      // The region's own member first: each proxy reads from its nearest member.
      const endpoints = [...cluster.endpoints.slice(i), ...cluster.endpoints.slice(0, i)];
      const child = fork(join(HERE, '_world-proxy.ts'), [region, endpoints.join(',')], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      children.push(child);
    }
    await Promise.all(children.map((c) => reply(c, (m) => m.ready === true)));
    const writer = await openEtcdStore({ endpoints: cluster.endpoints });
    try {
      const app = await writer.createApp(sampleApp({ name: 'world' }));
      const machines = [];
      for (let i = 0; i < samples + 5; i++) {
        const region = REGIONS[i % REGIONS.length]!;
        machines.push(await writer.createMachine(sampleMachine({ appName: app.name, region, state: 'stopped', addresses: { ipv4: '127.0.0.1', ipv6: 'fdaa::1' } })));
      }
      await synced(children, await writer.revision());
      const times = await measureRoutable(children, machines.map((m) => m.id), async (id) => {
        const t0 = performance.timeOrigin + performance.now();
        await writer.updateMachine(id, { patch: { state: 'started' } });
        return t0;
      });
      times.sort((a, b) => a - b);
      return { samples: times.length, p50Ms: round(percentile(times, 50)), p99Ms: round(percentile(times, 99)), maxMs: round(times.at(-1)!) };
    } finally {
      await writer.close();
    }
  } finally {
    await stopChildren(children);
    await cluster.stop();
  }
}

if (process.argv[1]?.endsWith('_world-routable.ts')) console.log(JSON.stringify(await benchRoutable(Number(process.argv[2] ?? 120))));
