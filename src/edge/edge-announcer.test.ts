import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Socket } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ManualClock } from '../lib/clock.ts';
import { isAloftError } from '../lib/errors.ts';
import { createProxy, type Proxy } from '../proxy/index.ts';
import { openSqliteStore, type SqliteStore } from '../store/index.ts';
import { AnycastAnnouncer } from './bgp/anycast-announcer.ts';
import type { Bird } from './bgp/bird.ts';
import { edgeAndRouterBirds, linkEdgeAndRouter, removeNamespaces } from './bgp/testing/bird-pair.ts';
import { EdgeAnnouncer, type EdgeState } from './edge-announcer.ts';
import { startLocalEdge } from './local-edge.ts';
import { proxyProbe } from './proxy-probe.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const ip = (...args: string[]): string => execFileSync('ip', args, { encoding: 'utf8' });

/** Polls `check` (a route in a namespace is an event only bird sees) until true or 15 s. */
async function until(what: string, check: () => boolean | Promise<boolean>): Promise<number> {
  const start = Date.now();
  while (!(await check())) {
    if (Date.now() - start > 15_000) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return Date.now() - start;
}

/** Resolves on the next state `edge` reports that is `state`. */
function nextState(changes: EdgeState[], state: EdgeState): Promise<void> {
  const from = changes.length;
  return until(`the edge to be ${state}`, () => changes.slice(from).includes(state)).then(() => undefined);
}

describe('EdgeAnnouncer (thresholds, on a manual clock)', () => {
  it('withdraws only after N failed probes in a row and announces after M passing ones', async () => {
    const clock = new ManualClock();
    const calls: string[] = [];
    let healthy = true;
    const edge = new EdgeAnnouncer({
      announcement: { announce: async () => void calls.push('announce'), withdraw: async () => void calls.push('withdraw') },
      probe: async () => healthy,
      intervalMs: 100,
      failures: 3,
      recoveries: 2,
      clock,
    });
    await edge.start();
    assert.deepEqual(calls, ['announce']);
    const tick = async (): Promise<void> => {
      clock.advance(100);
      for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
    };
    healthy = false;
    await tick();
    await tick();
    assert.equal(edge.state, 'announcing');
    healthy = true; // one pass resets the count
    await tick();
    healthy = false;
    await tick();
    await tick();
    assert.equal(edge.state, 'announcing');
    await tick();
    assert.equal(edge.state, 'withdrawn');
    assert.deepEqual(calls, ['announce', 'withdraw']);
    healthy = true;
    await tick();
    assert.equal(edge.state, 'withdrawn');
    await tick();
    assert.equal(edge.state, 'announcing');
    const drained = edge.drain();
    for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(calls, ['announce', 'withdraw', 'announce', 'withdraw']);
    clock.advance(2000);
    await drained;
    healthy = true;
    await tick();
    assert.equal(edge.state, 'draining', 'no probe announces again after the drain');
  });

  it('refuses bad settings with INVALID_ARGUMENT', () => {
    const announcement = { announce: async () => undefined, withdraw: async () => undefined };
    assert.throws(
      () => new EdgeAnnouncer({ announcement, probe: async () => true, failures: 0 }),
      (err) => isAloftError(err, 'INVALID_ARGUMENT') && err.message === "Cannot announce the edge as 'failures' must be an integer of 1 or more: got 0",
    );
    assert.throws(() => new EdgeAnnouncer({ announcement, probe: async () => true, withdrawDelayMs: -1 }), (err) => isAloftError(err, 'INVALID_ARGUMENT'));
  });
});

describe('proxyProbe', () => {
  it("is healthy on the proxy's own answer (a 404 for a host no app has), not on a refused or silent port", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'aloft-probe-'));
    const store = await openSqliteStore({ path: join(dir, 'aloft.db') });
    const proxy = createProxy({ store, port: 0 });
    const { port } = await proxy.listen();
    // A listener that accepts and never answers: a wedged proxy.
    const held: Socket[] = [];
    const silent = createServer((socket) => void held.push(socket)).listen(0, '127.0.0.1');
    await once(silent, 'listening');
    const silentPort = (silent.address() as { port: number }).port;
    try {
      assert.equal(await proxyProbe({ host: '127.0.0.1', port })(), true);
      assert.equal(await proxyProbe({ host: '127.0.0.1', port: silentPort, timeoutMs: 200 })(), false);
      await proxy.close();
      assert.equal(await proxyProbe({ host: '127.0.0.1', port })(), false);
    } finally {
      for (const socket of held) socket.destroy();
      silent.close();
      await proxy.close();
      await store.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('startLocalEdge', () => {
  it('refuses a socket no bird answers on with BIRD_FAILED, before probing anything', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'aloft-local-edge-'));
    try {
      await assert.rejects(
        startLocalEdge({ birdSocket: join(dir, 'none.ctl'), proxy: { host: '127.0.0.1', port: 1 } }),
        (err) => isAloftError(err, 'BIRD_FAILED') && /'anycast-bird-socket' must be the control socket of a running bird/.test(err.message),
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('EdgeAnnouncer with a real bird pair in two namespaces and a real proxy', () => {
  const tag = randomBytes(3).toString('hex');
  const edgeNs = `aet-${tag}-edge`;
  const routerNs = `aet-${tag}-rtr`;
  const birds: Bird[] = [];
  const children: ChildProcess[] = [];
  let dir = '';
  let store: SqliteStore;
  let edgeBird: Bird;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'aloft-edge-'));
    linkEdgeAndRouter(edgeNs, routerNs);
    const pair = edgeAndRouterBirds(dir, edgeNs, routerNs);
    edgeBird = pair.edge;
    const router = pair.router;
    birds.push(edgeBird, router);
    await edgeBird.start();
    await router.start();
    // Start withdrawn: each test shows its own announcement arrive.
    await new AnycastAnnouncer(edgeBird.client).withdraw();
    store = await openSqliteStore({ path: join(dir, 'aloft.db') });
  });

  after(async () => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await store?.close();
    for (const bird of birds) await bird.stop();
    removeNamespaces(edgeNs, routerNs);
    await rm(dir, { recursive: true, force: true });
  });

  const routed = (): boolean =>
    ip('-n', routerNs, 'route', 'show', '203.0.113.1/32').includes('via 10.1.0.2') && ip('-n', routerNs, '-6', 'route', 'show', '2001:db8:a10f::1/128').includes('via fd10:0:1::2');
  const gone = (): boolean => ip('-n', routerNs, 'route', 'show', '203.0.113.1/32') === '' && ip('-n', routerNs, '-6', 'route', 'show', '2001:db8:a10f::1/128') === '';

  it('announces while the proxy answers, withdraws when it stops answering, announces when it is back', async () => {
    const start = async (port: number): Promise<{ proxy: Proxy; port: number }> => {
      const proxy = createProxy({ store, port, closeGraceMs: 100 });
      return { proxy, port: (await proxy.listen()).port };
    };
    const first = await start(0);
    let proxy = first.proxy;
    const port = first.port;
    const changes: EdgeState[] = [];
    const edge = new EdgeAnnouncer({
      announcement: new AnycastAnnouncer(edgeBird.client),
      probe: proxyProbe({ host: '127.0.0.1', port, timeoutMs: 500 }),
      intervalMs: 50,
      failures: 3,
      recoveries: 2,
      onChange: (state) => changes.push(state),
    });
    try {
      await edge.start();
      assert.equal(edge.state, 'announcing');
      await until('the route at the router', routed);

      const withdrawn = nextState(changes, 'withdrawn');
      await proxy.close();
      await withdrawn;
      await until('the withdrawal at the router', gone);

      const announced = nextState(changes, 'announcing');
      proxy = (await start(port)).proxy;
      await announced;
      await until('the route at the router again', routed);
    } finally {
      edge.close();
      await proxy.close();
    }
  });

  it('`aloft proxy --anycast-bird-socket`: on SIGTERM the route is withdrawn before the proxy stops accepting', async () => {
    const child = spawn(
      process.execPath,
      [
        join(ROOT, 'bin', 'aloft.js'), 'proxy', '--data-dir', dir, '--port', '0', '--no-tls', '--autostop-interval', '0',
        '--anycast-bird-socket', edgeBird.client.socketPath, '--anycast-withdraw-delay', '1500ms', '--anycast-probe-interval', '100ms',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ALOFT_LOG: 'warn' } },
    );
    children.push(child);
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    await until('the proxy to announce', () => out.includes('anycast announcing') || child.exitCode !== null);
    assert.match(out, /anycast announcing/, out);
    const port = Number(/http on 127\.0\.0\.1:(\d+)/.exec(out)?.[1]);
    const answers = proxyProbe({ host: '127.0.0.1', port, timeoutMs: 500 });
    assert.equal(await answers(), true);
    await until('the route at the router', routed);

    const exited = once(child, 'exit');
    const signalled = Date.now();
    child.kill('SIGTERM');
    let withdrawnAt: number | undefined;
    let refusedAt: number | undefined;
    while (refusedAt === undefined) {
      if (withdrawnAt === undefined && gone()) withdrawnAt = Date.now() - signalled;
      if (!(await answers())) refusedAt = Date.now() - signalled;
      assert.ok(Date.now() - signalled < 15_000, 'the proxy must stop within 15 s');
    }
    const [code] = (await exited) as [number | null];
    assert.ok(withdrawnAt !== undefined, `the route must be gone before the proxy stops accepting (stopped accepting at ${refusedAt} ms)`);
    assert.ok(refusedAt >= 1500, `the proxy kept accepting through the withdraw delay: stopped at ${refusedAt} ms`);
    assert.ok(withdrawnAt < refusedAt, `withdrawn at ${withdrawnAt} ms, stopped accepting at ${refusedAt} ms`);
    assert.equal(code, 0, out);
    assert.match(out, /anycast draining/);
  });
});
