import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, test } from 'node:test';
import { execCommand } from '../lib/command.ts';
import { startBackend, type Backend } from '../proxy/testing/fixtures.ts';
import { startAutoscaleWorld } from '../proxy/autoscale/testing.ts';
import { allocateFlycastIp, isFlycastAddress } from './flycast-address.ts';
import { FlycastDirectory } from './flycast-directory.ts';
import { FlycastListeners } from './flycast-listeners.ts';
import { loopbackAssigner } from './loopback-assigner.ts';

const backends: Backend[] = [];
after(async () => {
  for (const b of backends) await b.close();
});

/** GET http://[address]:port/path with `host`; status and body. */
function get(address: string, port: number, path: string, host = 'anything.example'): Promise<{ status: number; text: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: address, port, path, headers: { host }, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function onLoopback(address: string): Promise<boolean> {
  const out = await execCommand('ip', ['-6', 'addr', 'show', 'dev', 'lo'], { timeoutMs: 5000, errorCode: 'NETWORK_FAILED' });
  return out.stdout.includes(`${address}/128`);
}

test('a request to [flycast]:80 goes through the proxy to the app, autostarting its stopped Machine; release stops it', async () => {
  const world = await startAutoscaleWorld();
  const directory = new FlycastDirectory(world.store);
  const listeners = new FlycastListeners({ directory, proxy: world.proxy, domain: 'localhost', ports: [80], assigner: loopbackAssigner() });
  let address = '';
  try {
    const backend = await startBackend();
    backends.push(backend);
    const machine = await world.machine(backend.port, 'stopped');
    const ip = await allocateFlycastIp(world.store, { app: world.app });
    address = ip.address;
    assert.ok(isFlycastAddress(address), address);
    const app = await world.store.getApp(world.app);
    assert.equal(address.split(':').slice(0, 3).join(':'), `fdaa:${Math.floor((app?.network ?? 0) / 0x10000).toString(16)}:${((app?.network ?? 0) % 0x10000).toString(16)}`, 'in the org network');

    await directory.start();
    await listeners.start();
    assert.deepEqual(listeners.addresses(), [address]);
    assert.ok(await onLoopback(address), 'the assigner put the address on lo');

    const response = await get(address, 80, '/private?x=1');
    assert.equal(response.status, 200, response.text);
    const echoed = JSON.parse(response.text) as { url: string; headers: Record<string, string> };
    assert.equal(echoed.url, '/private?x=1');
    assert.equal(echoed.headers['x-forwarded-host'], 'anything.example');
    assert.equal((await world.store.getMachine(machine.id))?.state, 'started', 'autostarted through Flycast');
    assert.deepEqual(await world.proxyEvents(machine.id), ['start:requested']);

    // Released: the listener and the address go.
    await world.store.deleteIp(address);
    await listeners.settled();
    assert.deepEqual(listeners.addresses(), []);
    assert.equal(await onLoopback(address), false);
  } finally {
    await listeners.close();
    directory.stop();
    await world.close();
    if (address !== '' && (await onLoopback(address))) await execCommand('ip', ['-6', 'addr', 'del', `${address}/128`, 'dev', 'lo'], { timeoutMs: 5000, errorCode: 'NETWORK_FAILED' });
  }
});

test('allocating for an unknown app is APP_NOT_FOUND; addresses are never handed out twice', async () => {
  const world = await startAutoscaleWorld();
  try {
    await assert.rejects(allocateFlycastIp(world.store, { app: 'nope' }), (err: Error & { code?: string }) => err.code === 'APP_NOT_FOUND' && /Cannot allocate a private IPv6 address for app nope/.test(err.message));
    await assert.rejects(allocateFlycastIp(world.store, { app: world.app, region: 'zzz' }), (err: Error & { code?: string }) => err.code === 'REGION_UNKNOWN');
    const a = await allocateFlycastIp(world.store, { app: world.app });
    await world.store.deleteIp(a.address);
    const b = await allocateFlycastIp(world.store, { app: world.app, region: 'ams' });
    assert.notEqual(a.address, b.address);
    assert.equal(b.region, 'ams');
  } finally {
    await world.close();
  }
});
