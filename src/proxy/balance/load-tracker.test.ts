import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, type Socket } from 'node:net';
import { test } from 'node:test';
import { toRouteEntry, type RouteEntry } from '../route-entry.ts';
import { fakeMachine } from '../testing/fixtures.ts';
import { LoadTracker } from './load-tracker.ts';

function at(id: string, type: 'requests' | 'connections'): RouteEntry {
  return { ...toRouteEntry(fakeMachine('a', 1, 'started', id), 0)!, concurrency: { type, softLimit: 1, hardLimit: 2 } };
}

/** Real connected server-side sockets on loopback (the proxy counts its clients' sockets). */
async function sockets(n: number): Promise<{ list: Socket[]; close(): Promise<void> }> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  const accepted: Socket[] = [];
  const clients: Socket[] = [];
  for (let i = 0; i < n; i += 1) {
    const arrived = once(server, 'connection');
    clients.push(connect(port, '127.0.0.1'));
    accepted.push(((await arrived) as [Socket])[0]);
  }
  return {
    list: accepted,
    close: async () => {
      const closed = accepted.filter((s) => !s.destroyed).map((s) => once(s, 'close'));
      for (const s of [...accepted, ...clients]) s.destroy();
      await Promise.all(closed);
      await new Promise((r) => server.close(r));
    },
  };
}

test('requests count while in flight; connections count until the client closes', async () => {
  const { list, close } = await sockets(2);
  const [s1, s2] = list as [Socket, Socket];
  const loads = new LoadTracker();
  const req = at('r', 'requests');
  const conn = at('c', 'connections');
  const released: string[] = [];
  loads.onRelease((e) => released.push(e.machineId));

  const r1 = loads.acquire(req, s1);
  const r2 = loads.acquire(req, s2);
  assert.equal(loads.load(req), 2);
  r1();
  r1();
  assert.equal(loads.load(req), 1);
  r2();
  assert.equal(loads.load(req), 0);

  // One keep-alive client: two requests in a row are one connection.
  loads.acquire(conn, s1)();
  loads.acquire(conn, s1)();
  loads.acquire(conn, s2)();
  assert.equal(loads.load(conn), 2);
  // Its own connection does not count against itself when it asks again.
  assert.equal(loads.loadFor(conn, s1), 1);
  // A later request of s1 going to the other Machine moves the connection there.
  loads.acquire(req, s1)();
  assert.equal(loads.connections('c'), 1);
  assert.equal(loads.connections('r'), 1);
  const closed = once(s2, 'close');
  s2.destroy();
  await closed;
  assert.equal(loads.connections('c'), 0);
  assert.ok(released.includes('c'));
  await close();
  assert.equal(loads.connections('r'), 0);
});
