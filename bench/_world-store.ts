/**
 * The store part of bench/world.ts: the latency of one Machine write (`updateMachine`,
 * what every API call and agent state change does) and of write → watch (what the
 * proxies, DNS and agents wait for), on the SQLite store (a file, WAL) and on etcd with
 * one and three members (loopback, data on tmpfs where there is one: etcd's fsync is
 * then free, so these are etcd's and the client's costs without a disk).
 *
 * Writes go one at a time from one client; the watch is a second client of the same
 * backend (for etcd a second connection, as another process would have; SQLite's watch
 * is in-process, so the same store object).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openEtcdStore } from '../src/store/etcd/index.ts';
import { startTestEtcd } from '../src/store/etcd/testing.ts';
import { openSqliteStore, type Store } from '../src/store/index.ts';
import { sampleApp, sampleMachine } from '../src/store/testing.ts';

export interface StoreFigures {
  writeP50Ms: number;
  writeP99Ms: number;
  watchP50Ms: number;
  watchP99Ms: number;
  samples: number;
}

const percentile = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? NaN;
const round = (x: number): number => Math.round(x * 100) / 100;

/** `samples` writes on `writer`, each timed to its own resolution and to `watcher`'s delivery of it. */
export async function measureStore(writer: Store, watcher: Store, samples: number): Promise<StoreFigures> {
  const app = await writer.createApp(sampleApp());
  const machine = await writer.createMachine(sampleMachine({ appName: app.name, state: 'stopped' }));
  let waiting: { version: number; resolve: (at: number) => void } | undefined;
  const unwatch = watcher.watch((change) => {
    if (change.kind !== 'machine' || change.op !== 'put' || change.machine.id !== machine.id) return;
    if (waiting !== undefined && change.machine.version >= waiting.version) {
      const at = performance.now();
      const w = waiting;
      waiting = undefined;
      w.resolve(at);
    }
  });
  // A first write to warm both connections (and be sure the watch is live) before timing.
  let version = machine.version;
  const writes: number[] = [];
  const watches: number[] = [];
  try {
    for (let i = -5; i < samples; i++) {
      const seen = new Promise<number>((resolve) => (waiting = { version: version + 1, resolve }));
      const t0 = performance.now();
      const updated = await writer.updateMachine(machine.id, { patch: { state: i % 2 === 0 ? 'started' : 'stopped' } });
      const written = performance.now();
      const delivered = await Promise.race([seen, new Promise<number>((_, reject) => setTimeout(() => reject(new Error('the watch did not deliver a write within 10 s')), 10_000).unref())]);
      version = updated.version;
      if (i < 0) continue;
      writes.push(written - t0);
      watches.push(delivered - t0);
    }
  } finally {
    unwatch();
  }
  writes.sort((a, b) => a - b);
  watches.sort((a, b) => a - b);
  return { writeP50Ms: round(percentile(writes, 50)), writeP99Ms: round(percentile(writes, 99)), watchP50Ms: round(percentile(watches, 50)), watchP99Ms: round(percentile(watches, 99)), samples };
}

/** SQLite (a file in a temp dir), etcd ×1 and etcd ×3: each figure set. */
export async function benchStores(samples: number): Promise<Record<'sqlite' | 'etcd1' | 'etcd3', StoreFigures>> {
  const dir = await mkdtemp(join(tmpdir(), 'aloft-bench-world-'));
  try {
    const sqlite = await openSqliteStore({ path: join(dir, 'aloft.db') });
    const sqliteFigures = await measureStore(sqlite, sqlite, samples).finally(() => sqlite.close());
    const etcd = async (members: number): Promise<StoreFigures> => {
      const cluster = await startTestEtcd({ members });
      try {
        const writer = await openEtcdStore({ endpoints: cluster.endpoints });
        const watcher = await openEtcdStore({ endpoints: [...cluster.endpoints].reverse() });
        try {
          return await measureStore(writer, watcher, samples);
        } finally {
          await writer.close();
          await watcher.close();
        }
      } finally {
        await cluster.stop();
      }
    };
    return { sqlite: sqliteFigures, etcd1: await etcd(1), etcd3: await etcd(3) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[1]?.endsWith('_world-store.ts')) console.log(JSON.stringify(await benchStores(Number(process.argv[2] ?? 200))));
