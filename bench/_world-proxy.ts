/**
 * One region's proxy for bench/world.ts, in its own process: its own etcd client (the
 * region's member listed first), createProxy on a free port. On `{ watch: id }` it
 * answers `{ subscribed: id }`, then `{ routable: id, at }` the moment its route table
 * can route Machine `id` (`at` on the shared clock: performance.timeOrigin + now).
 * In the lab, where only the namespaces reach etcd, one of them also writes for the
 * bench: `{ create: n }` (n stopped Machines; answers their ids and the revision) and
 * `{ write: id }` (writes it `started`; answers when it began); `{ raw: n }` times bare
 * etcd puts and gets from here, to tell etcd's cost from the store's.
 */
import { Etcd3 } from 'etcd3';
import { createProxy } from '../src/proxy/index.ts';
import { openEtcdStore } from '../src/store/etcd/index.ts';
import { sampleApp, sampleMachine } from '../src/store/testing.ts';

const [region = 'local', endpointList = ''] = process.argv.slice(2);
const store = await openEtcdStore({ endpoints: endpointList.split(',') });
const proxy = createProxy({ store, port: 0, region });
const { port } = await proxy.listen();
const now = (): number => performance.timeOrigin + performance.now();

interface Message {
  watch?: string;
  revision?: number;
  stop?: true;
  create?: number;
  write?: string;
  raw?: number;
}

/** etcd's own cost from here, without the store: `n` puts and `n` linearizable gets on a bare client; p50s. */
async function raw(n: number): Promise<void> {
  const client = new Etcd3({ hosts: endpointList.split(',') });
  const puts: number[] = [];
  const gets: number[] = [];
  try {
    for (let i = 0; i < n; i++) {
      let t = performance.now();
      await client.put(`/aloft-bench/raw/${region}`).value(String(i));
      puts.push(performance.now() - t);
      t = performance.now();
      await client.get(`/aloft-bench/raw/${region}`).string();
      gets.push(performance.now() - t);
    }
  } finally {
    client.close();
  }
  const p50 = (xs: number[]): number => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  process.send!({ raw: { putP50Ms: p50(puts), getP50Ms: p50(gets) } });
}

async function create(count: number): Promise<void> {
  const app = await store.createApp(sampleApp());
  const created: string[] = [];
  for (let i = 0; i < count; i++) created.push((await store.createMachine(sampleMachine({ appName: app.name, region, state: 'stopped', addresses: { ipv4: '127.0.0.1', ipv6: 'fdaa::1' } }))).id);
  process.send!({ created, revision: await store.revision() });
}

async function write(id: string): Promise<void> {
  const t0 = now();
  await store.updateMachine(id, { patch: { state: 'started' } });
  process.send!({ wrote: id, t0 });
}

process.on('message', (message: Message) => {
  if (message.create !== undefined) return void create(message.create);
  if (message.write !== undefined) return void write(message.write);
  if (message.raw !== undefined) return void raw(message.raw);
  if (message.stop === true) {
    void proxy.close().then(() => store.close()).then(() => process.exit(0));
    return;
  }
  if (message.revision !== undefined) {
    const revision = message.revision;
    void proxy.table.whenRevision(revision).then(() => process.send!({ revision }));
    return;
  }
  const id = message.watch!;
  void proxy.table.whenRoutable(id).then(() => process.send!({ routable: id, at: now() }));
  process.send!({ subscribed: id });
});
process.send!({ ready: true, port });
