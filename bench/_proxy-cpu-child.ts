/**
 * One proxy under bench/_proxy-cpu.ts: `node --import tsx _proxy-cpu-child.ts <kind>
 * <upstreamPort> [srcRoot]`. Kinds: `aloft` (createProxy from `<srcRoot>/proxy`, an
 * in-memory store whose one started Machine is the upstream), `http` (a bare
 * node:http server answering itself: the floor of Node's server side), `raw` (a
 * measuring prototype: net.Server, a minimal GET-only parser and the proxy's backend
 * client; not a proxy). Sends
 * `{ port }` to the parent once it routes; exits on 'stop'.
 */
import { createServer } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const [kind, upstreamArg, srcArg] = process.argv.slice(2);
const upstreamPort = Number(upstreamArg);
const srcRoot = resolve(srcArg ?? new URL('../src', import.meta.url).pathname);
const load = (path: string): Promise<Record<string, unknown>> => import(pathToFileURL(resolve(srcRoot, path)).href) as Promise<Record<string, unknown>>;

let stop: () => Promise<void>;
let port: number;
if (kind === 'http') {
  const body = Buffer.from('ok\n');
  const server = createServer((_req, res) => {
    res.writeHead(200, ['content-length', '3']);
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
  stop = () => new Promise((r) => server.close(() => r()));
} else if (kind === 'raw') {
  // A measuring prototype, not a proxy: net.Server with a minimal parser (GETs without
  // bodies, no guards) and the proxy's backend client (this tree's), to show what a
  // server of our own could save against node:http.
  /* eslint-disable @typescript-eslint/no-explicit-any -- modules loaded by path */
  const { BackendPools } = (await load('proxy/backend/index.ts')) as any;
  /* eslint-enable @typescript-eslint/no-explicit-any */
  const pools = new BackendPools();
  const origin = `http://127.0.0.1:${upstreamPort}`;
  const server = createNetServer((socket) => {
    socket.setNoDelay(true);
    let pending = '';
    socket.on('data', (data: Buffer) => {
      pending += data.toString('latin1');
      for (let end = pending.indexOf('\r\n\r\n'); end >= 0; end = pending.indexOf('\r\n\r\n')) {
        const head = pending.slice(0, end);
        pending = pending.slice(end + 4);
        const path = head.slice(head.indexOf(' ') + 1, head.indexOf(' HTTP/'));
        pools.dispatch(
          { origin, path, method: 'GET', headers: ['host', 'bench.localhost', 'via', '1.1 aloft'], body: null },
          {
            onRequestStart() {},
            onResponseStart(_c: unknown, status: number, headers: Record<string, string>) {
              let out = `HTTP/1.1 ${status} OK\r\n`;
              for (const name in headers) out += `${name}: ${headers[name]}\r\n`;
              socket.write(`${out}via: 1.1 aloft\r\n\r\n`, 'latin1');
            },
            onResponseData(_c: unknown, chunk: Buffer) {
              socket.write(chunk);
            },
            onResponseEnd() {},
            onResponseError() {
              socket.destroy();
            },
          },
        );
      }
    });
    socket.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
  stop = async () => {
    await pools.close();
    server.close();
  };
} else {
  /* eslint-disable @typescript-eslint/no-explicit-any -- modules loaded from a snapshot tree by path */
  const { createProxy } = (await load('proxy/index.ts')) as any;
  const { openSqliteStore } = (await load('store/index.ts')) as any;
  const { sampleApp, sampleMachine } = (await load('store/testing.ts')) as any;
  const store = await openSqliteStore({ path: ':memory:' });
  await store.createApp(sampleApp({ name: 'bench' }));
  const service = {
    protocol: 'tcp',
    internal_port: upstreamPort,
    ports: [{ port: 80, handlers: ['http'] }],
    concurrency: { type: 'requests', soft_limit: 100_000, hard_limit: 100_000 },
  };
  await store.createMachine(
    sampleMachine({ appName: 'bench', state: 'started', region: 'local', addresses: { ipv4: '127.0.0.1', ipv6: 'fdaa::1' }, config: { image: 'x', services: [service] } }),
  );
  const proxy = createProxy({ store, port: 0, discoverTcp: false });
  ({ port } = await proxy.listen());
  stop = async () => {
    await proxy.close();
    await store.close();
  };
  /* eslint-enable @typescript-eslint/no-explicit-any */
}
process.send!({ port });
process.on('message', (message) => {
  if (message === 'stop') void stop().then(() => process.exit(0));
});
// The parent died without a word: do not outlive it.
process.on('disconnect', () => process.exit(0));
