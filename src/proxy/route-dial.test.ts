import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { send } from './testing/client.ts';
import { fakeApp, fakeMachine } from './testing/fixtures.ts';
import { startProxyWorld, type ProxyWorld } from './testing/world.ts';

/**
 * The proxy's `dial: 'ipv6'` (an edge on the WireGuard backhaul): requests and health
 * checks go to each Machine's 6PN address, never its host-local IPv4. Here the "6PN"
 * address is ::1 and the IPv4 is 127.0.0.1, where nothing listens on the port.
 */
let six: Server;
let port = 0;
let checks = 0;
const worlds: ProxyWorld[] = [];

before(async () => {
  six = createServer((req, res) => {
    if (req.url === '/health') checks += 1;
    res.end(`via ${req.socket.localAddress}`);
  });
  await new Promise<void>((resolve, reject) => {
    six.once('error', reject);
    six.listen(0, '::1', () => resolve());
  });
  port = (six.address() as AddressInfo).port;
});

after(async () => {
  for (const world of worlds) await world.close();
  six.closeAllConnections();
  await new Promise<void>((resolve) => six.close(() => resolve()));
});

const machineWithCheck = (id: string) => {
  const machine = fakeMachine('web', port, 'started', id);
  machine.addresses = { ipv4: '127.0.0.1', ipv6: '::1' };
  machine.config.services![0]!.checks = [{ type: 'http', path: '/health', interval: '100ms', grace_period: '0s' }];
  return machine;
};

test('with dial ipv6 the proxy forwards to the Machine’s 6PN address, and its health checks pass there', async () => {
  const world = await startProxyWorld((store) => {
    store.putApp(fakeApp('web'));
    store.putMachine(machineWithCheck('m-six'));
  }, { dial: 'ipv6' });
  worlds.push(world);
  await world.settled();
  await world.proxy.table.whenRoutable('m-six');
  assert.ok(checks >= 1, 'the check reached the 6PN address');
  const res = await send(world.port, { host: 'web.localhost' });
  assert.equal(res.status, 200);
  assert.equal(res.text, 'via ::1');
});

test('by default (IPv4) the same Machine is dialled at 127.0.0.1, where nothing answers: its check fails', async () => {
  const world = await startProxyWorld((store) => {
    store.putApp(fakeApp('web'));
    store.putMachine(machineWithCheck('m-four'));
  });
  worlds.push(world);
  await world.settled();
  const entry = world.proxy.table.lookup('web');
  assert.ok(entry.known);
  // Until its first check passes a Machine with checks is not routable; it never passes here.
  const res = await send(world.port, { host: 'web.localhost' });
  assert.notEqual(res.status, 200);
  assert.equal(world.proxy.table.entry('m-four'), undefined);
});
