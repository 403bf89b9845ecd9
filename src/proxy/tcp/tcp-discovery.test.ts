import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Server } from 'node:net';
import { after, before, test } from 'node:test';
import type { Machine, MachineService } from '../../model/index.ts';
import { freePort } from '../../lib/testing/free-port.ts';
import { fakeApp, fakeMachine } from '../testing/fixtures.ts';
import { startProxyWorld, type ProxyWorld } from '../testing/world.ts';

// An echo backend behind every Machine's TCP port.
let backend: Server;
let backendPort = 0;
let world: ProxyWorld;

before(async () => {
  backend = createServer((socket) => socket.pipe(socket));
  backend.listen(0, '127.0.0.1');
  await once(backend, 'listening');
  backendPort = (backend.address() as AddressInfo).port;
  world = await startProxyWorld((store) => {
    store.putApp(fakeApp('db'));
    store.putApp(fakeApp('other'));
  });
});

after(async () => {
  await world.close();
  backend.close();
});

/** A Machine of `app` with an HTTP service and raw TCP service ports `ports`. */
function withTcp(app: string, id: string, ports: number[], state: Machine['state'] = 'started'): Machine {
  const m = fakeMachine(app, backendPort, state, id);
  const tcp: MachineService = { protocol: 'tcp', internal_port: backendPort, ports: ports.map((port) => ({ port, handlers: [] })) };
  m.config.services = [{ protocol: 'tcp', internal_port: backendPort, ports: [{ port: 80, handlers: ['http'] }] }, tcp];
  return m;
}

async function echoes(port: number, text: string): Promise<boolean> {
  const socket = connect(port, '127.0.0.1');
  try {
    await once(socket, 'connect');
    socket.write(text);
    const [data] = (await once(socket, 'data')) as [Buffer];
    return data.toString() === text;
  } catch {
    return false;
  } finally {
    socket.destroy();
  }
}

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', (err: Error & { code?: string }) => resolve(err.code === 'ECONNREFUSED'));
  });
}

test('a raw TCP port in a Machine config gets a listener while a Machine declares it, and loses it after', async () => {
  const port = await freePort();
  world.store.putMachine(withTcp('db', 'm-1', [port]));
  await world.settled();
  await world.proxy.settledTcp();
  assert.deepEqual(world.proxy.tcpPorts(), { [`db:${port}`]: port });
  assert.equal(await echoes(port, 'ping'), true);
  // A stopped Machine keeps its port served (an autostart has a way in)…
  world.store.putMachine(withTcp('db', 'm-1', [port], 'stopped'));
  await world.settled();
  await world.proxy.settledTcp();
  assert.deepEqual(world.proxy.tcpPorts(), { [`db:${port}`]: port });
  // …a destroyed one does not.
  world.store.deleteMachine('m-1');
  await world.settled();
  await world.proxy.settledTcp();
  assert.deepEqual(world.proxy.tcpPorts(), {});
  assert.equal(await refused(port), true);
});

test('one edge port, two apps: the first keeps it, the other gets it once the first lets go', async () => {
  const port = await freePort();
  world.store.putMachine(withTcp('db', 'm-db', [port]));
  await world.settled();
  await world.proxy.settledTcp();
  world.store.putMachine(withTcp('other', 'm-other', [port]));
  await world.settled();
  await world.proxy.settledTcp();
  assert.deepEqual(world.proxy.tcpPorts(), { [`db:${port}`]: port });
  world.store.deleteMachine('m-db');
  await world.settled();
  await world.proxy.settledTcp();
  await world.proxy.settledTcp(); // the freed port's waiting app is looked at next
  assert.deepEqual(world.proxy.tcpPorts(), { [`other:${port}`]: port });
  world.store.deleteMachine('m-other');
  await world.settled();
  await world.proxy.settledTcp();
});

test("the edge's own ports are never given to an app", async () => {
  world.store.putMachine(withTcp('db', 'm-edge', [world.port]));
  await world.settled();
  await world.proxy.settledTcp();
  assert.deepEqual(world.proxy.tcpPorts(), {});
  world.store.deleteMachine('m-edge');
  await world.settled();
});
