/**
 * The aloft side of bench/proxy.ts, run in its own process (pinned to one core by the
 * parent): an in-memory SQLite store with one app whose Machine's HTTP service is the
 * bench's upstream (concurrency type `requests`, a hard limit high enough never to
 * throttle), and the proxy following it. It measures the route update time itself —
 * store write of `started` → first request routed, through its own listening proxy —
 * since the store's watch is in-process. Its TLS port (self-signed certificate per app,
 * made on the first handshake) is for the handshake figure. Sends `{ port, tlsPort,
 * routeUpdateMs }` to the parent.
 */
import { request } from 'node:http';
import type { MachineService } from '../src/model/index.ts';
import { createProxy } from '../src/proxy/index.ts';
import { openSqliteStore } from '../src/store/index.ts';
import { sampleApp, sampleMachine } from '../src/store/testing.ts';

const upstreamPort = Number(process.argv[2]);
const store = await openSqliteStore({ path: ':memory:' });
await store.createApp(sampleApp({ name: 'bench' }));
const service: MachineService = {
  protocol: 'tcp',
  internal_port: upstreamPort,
  ports: [{ port: 80, handlers: ['http'] }],
  concurrency: { type: 'requests', soft_limit: 100_000, hard_limit: 100_000 },
};
const machine = await store.createMachine(
  sampleMachine({ appName: 'bench', state: 'stopped', region: 'local', addresses: { ipv4: '127.0.0.1', ipv6: 'fdaa::1' }, config: { image: 'x', services: [service] } }),
);
const proxy = createProxy({ store, port: 0, tls: { port: 0 } });
const { port, tlsPort } = await proxy.listen();

/** One GET through the proxy on a fresh connection; its status. */
const status = (): Promise<number> =>
  new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/', headers: { host: 'bench.localhost' }, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', () => resolve(0));
    req.end();
  });

// Route update: stopped → started in the store, then requests until one is routed (200).
const samples: number[] = [];
for (let i = 0; i < 20; i++) {
  await store.updateMachine(machine.id, { patch: { state: 'stopped' } });
  await proxy.table.whenRevision(await store.revision());
  const t0 = performance.now();
  await store.updateMachine(machine.id, { patch: { state: 'started' } });
  while ((await status()) !== 200) {
    if (performance.now() - t0 > 5000) throw new Error('the started Machine was not routed within 5 s');
  }
  samples.push(performance.now() - t0);
}
samples.sort((a, b) => a - b);
process.send!({ port, tlsPort, routeUpdateMs: samples[Math.floor(samples.length / 2)], routeUpdateMaxMs: samples[samples.length - 1] });
process.on('message', (message) => {
  if (message === 'stop') void proxy.close().then(() => store.close()).then(() => process.exit(0));
});
