import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { allocateFlycastIp } from '../../flycast/flycast-address.ts';
import { openSqliteStore } from '../../store/index.ts';
import type { Store } from '../../store/store.ts';
import { sampleMachine } from '../../store/testing.ts';
import { machineIpv6, sixpnGateway } from '../sixpn.ts';
import { generateKeyPair } from '../wireguard/keys.ts';
import { networkPrefix } from '../wireguard/prefixes.ts';
import { NetnsKit } from '../wireguard/testing/netns.ts';
import { createUserPeer } from './create-peer.ts';
import { orgNetwork } from './org-network.ts';
import type { PeerChanges } from './peer-plan.ts';
import { PeerGateway } from './peer-gateway.ts';
import { bringUpLaptop } from './testing/laptop.ts';
import { parseWgQuickConfig } from './wg-quick-config.ts';

const HOST_ID = 'gw-host';
const HOST_NUMBER = 1;
const GW_PORT = 51_821;
const HTTP_PORT = 8080;

// Plain JavaScript for `node -e` inside the Machine's namespace: says who it is.
const MACHINE_HTTP = `
require('node:http').createServer((req, res) => res.end('hello from the machine to ' + req.socket.remoteAddress))
  .listen(${HTTP_PORT}, '::', () => process.stdout.write('listening\\n'));`;

// Inside the laptop: resolve through the config's DNS (as wg-quick's DNS= makes the
// system do), then fetch the Machine by name. One JSON line out.
const LAPTOP_CLIENT = `
const { Resolver } = require('node:dns').promises;
const http = require('node:http');
const [dns, app] = process.argv.slice(1);
const r = new Resolver({ timeout: 2000, tries: 5 });
r.setServers([dns]);
(async () => {
  const out = {};
  try {
    out.aaaa = await r.resolve6(app + '.internal');
    out.peers = (await r.resolveTxt('_peer.internal')).map((chunks) => chunks.join(''));
    out.flycast = await r.resolve6(app + '.flycast').catch((e) => e.code);
    out.other = await r.resolve6('nope.internal').catch((e) => e.code);
    out.body = await new Promise((resolve, reject) => {
      http.get({ host: out.aaaa[0], port: ${HTTP_PORT}, path: '/', agent: false, timeout: 10000 }, (res) => {
        let text = ''; res.setEncoding('utf8'); res.on('data', (d) => (text += d)); res.on('end', () => resolve(text));
      }).on('error', reject).on('timeout', () => reject(new Error('http timeout')));
    });
  } catch (e) { out.error = String(e && e.message || e); }
  process.stdout.write(JSON.stringify(out) + '\\n');
  process.exit(0);
})();`;

/**
 * User peers end to end, as root in namespaces this test makes and removes: a gateway
 * "host" running wireguard-go that aloft's PeerGateway keeps equal to the store, a
 * Machine behind it serving HTTP on its 6PN address, aloft's DNS at fdaa::3 on the
 * gateway, and a "laptop" that brings up stock wireguard-go from the generated
 * wg-quick file, then resolves `<app>.internal` through the tunnel and reaches it.
 */
describe('user WireGuard peers through a gateway host', () => {
  const kit = new NetnsKit();
  const tag = `${process.pid % 100_000}`;
  const gw = `aloft-pgw-${tag}`;
  const vm = `aloft-pvm-${tag}`;
  const lap = `aloft-plap-${tag}`;
  let dir: string;
  let store: Store;
  let gateway: PeerGateway;
  let dnsChild: ChildProcess | undefined;
  let network: number;
  let machineAddress: string;
  let laptop: Awaited<ReturnType<typeof bringUpLaptop>> | undefined;
  let config: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'aloft-peers-'));
    store = await openSqliteStore({ path: join(dir, 'store.db'), pollIntervalMs: 20 });
    await store.createOrg({ slug: 'acme', name: 'Acme', createdAt: Date.now() });
    network = await orgNetwork(store, 'acme');
    await store.createApp({ id: 'app_web', name: 'web', orgSlug: 'acme', network, status: 'deployed', createdAt: Date.now() });
    // The Machine's number comes from the host's counter, as the scheduler's does.
    machineAddress = machineIpv6(network, HOST_NUMBER, await store.nextSequence(`host:${HOST_ID}:machine-number`));
    await store.createMachine(sampleMachine({ appName: 'web', state: 'started', region: 'ams', hostId: HOST_ID, addresses: { ipv4: '172.30.0.2', ipv6: machineAddress } }));

    for (const ns of [gw, vm, lap]) await kit.netns(ns);
    // Underlay: the laptop reaches the gateway's WireGuard port over IPv4 only.
    await kit.ip('-n', gw, 'link', 'add', 'up0', 'type', 'veth', 'peer', 'name', 'up1', 'netns', lap);
    await kit.ip('-n', gw, 'addr', 'add', '10.78.0.1/24', 'dev', 'up0');
    await kit.ip('-n', lap, 'addr', 'add', '10.78.0.2/24', 'dev', 'up1');
    await kit.ip('-n', gw, 'link', 'set', 'up0', 'up');
    await kit.ip('-n', lap, 'link', 'set', 'up1', 'up');
    // The Machine on the gateway host's bridge (a veth stands in for it): the org's /80 on-link.
    await kit.ip('-n', gw, 'link', 'add', 'br6', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', vm);
    await kit.ip('-n', gw, '-6', 'addr', 'add', `${sixpnGateway(network, HOST_NUMBER)}/80`, 'dev', 'br6', 'nodad');
    await kit.ip('-n', gw, 'link', 'set', 'br6', 'up');
    await kit.ip('-n', vm, '-6', 'addr', 'add', `${machineAddress}/80`, 'dev', 'eth0', 'nodad');
    await kit.ip('-n', vm, 'link', 'set', 'eth0', 'up');
    await kit.ip('-n', vm, '-6', 'route', 'add', 'fdaa::/16', 'via', sixpnGateway(network, HOST_NUMBER), 'dev', 'eth0');
    await kit.ip('-n', gw, '-6', 'addr', 'add', 'fdaa::3/128', 'dev', 'lo', 'nodad');
    await kit.exec(gw, 'sysctl', '-qw', 'net.ipv6.conf.all.forwarding=1');

    gateway = new PeerGateway({
      store,
      hostId: HOST_ID,
      region: 'ams',
      hostNumber: HOST_NUMBER,
      privateKey: generateKeyPair().privateKey,
      listenPort: GW_PORT,
      endpoint: `10.78.0.1:${GW_PORT}`,
      netns: gw,
      socketDir: join(dir, 'gw-wg'),
      bridge: 'br6',
    });
    await gateway.start();

    const machine = kit.spawnNode(vm, MACHINE_HTTP, []);
    await firstLine(machine, 'listening');
    const script = fileURLToPath(new URL('./testing/gateway-dns.ts', import.meta.url));
    dnsChild = spawn('ip', ['netns', 'exec', gw, process.execPath, '--import', 'tsx', script, join(dir, 'store.db')], { stdio: ['ignore', 'pipe', 'inherit'] });
    await firstLine(dnsChild, 'ready');
  });

  after(async () => {
    await laptop?.stop();
    if (dnsChild !== undefined && dnsChild.exitCode === null && dnsChild.signalCode === null) {
      const exited = once(dnsChild, 'exit');
      dnsChild.kill('SIGTERM');
      await exited;
    }
    await gateway?.stop();
    await kit.cleanup();
    await store?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('creates a wg-quick config: the peer /128 in the org network, DNS fdaa::3, MTU 1420, the org /48 through the gateway', async () => {
    const reconciled = nextReconcile(gateway);
    const created = await createUserPeer(store, { org: 'acme', region: 'ams', name: 'laptop' });
    config = created.config;
    const parsed = parseWgQuickConfig(config);
    assert.equal(parsed.Interface['Address'], `${created.peer.address}/128`);
    assert.equal(parsed.Interface['DNS'], 'fdaa::3');
    assert.equal(parsed.Interface['MTU'], '1420');
    assert.equal(parsed.Peer['PublicKey'], gateway.publicKey);
    assert.equal(parsed.Peer['Endpoint'], `10.78.0.1:${GW_PORT}`);
    assert.equal(parsed.Peer['AllowedIPs'], `${networkPrefix(network)}, fdaa::3/128`);
    assert.equal(parsed.Peer['PersistentKeepalive'], '25');
    assert.ok(created.peer.address.startsWith(networkPrefix(network).replace('::/48', ':')), created.peer.address);
    assert.notEqual(created.peer.address, machineAddress, 'never a Machine’s address');
    assert.ok(!JSON.stringify(await store.listPeers()).includes(parsed.Interface['PrivateKey'] ?? '?'), 'the private key is not stored');

    // The gateway picked the new peer up from the store's watch: one UAPI set, its /128, a route.
    assert.deepEqual((await reconciled).added, ['acme/laptop']);
    const device = await gateway.client.get();
    assert.deepEqual(device.peers.map((p) => [p.publicKey, p.allowedIps]), [[created.peer.publicKey, [`${created.peer.address}/128`]]]);
    assert.deepEqual(await gateway.tunnel.routes(), [`${created.peer.address}/128`]);
  });

  it('the laptop brings the config up with stock wireguard-go, resolves web.internal at fdaa::3 and reaches the Machine', async () => {
    const flycast = await allocateFlycastIp(store, { app: 'web' });
    laptop = await bringUpLaptop(kit, lap, 'wgpeer0', config);
    const child = kit.spawnNode(lap, LAPTOP_CLIENT, [laptop.dns, 'web']);
    const result = JSON.parse(await firstLine(child)) as Record<string, unknown>;
    assert.equal(result['error'], undefined, JSON.stringify(result));
    assert.deepEqual(result['aaaa'], [machineAddress]);
    assert.deepEqual(result['peers'], ['laptop'], '_peer.internal names the org’s peers');
    assert.deepEqual(result['flycast'], [flycast.address], 'web.flycast is its private address');
    assert.equal(result['other'], 'ENOTFOUND');
    // The Machine saw the laptop's own 6PN address: routed, not NATed.
    assert.equal(result['body'], `hello from the machine to ${laptop.address}`);
  });

  it('removing the peer takes it off the gateway device, its route and its proxy-NDP entry', async () => {
    const reconciled = nextReconcile(gateway);
    const peer = await store.getPeer('acme', 'laptop');
    await store.deletePeer('acme', 'laptop');
    assert.equal((await reconciled).removed.length, 1);
    assert.deepEqual((await gateway.client.get()).peers, []);
    assert.deepEqual(await gateway.tunnel.routes(), []);
    const proxies = await kit.ip('-n', gw, '-6', 'neigh', 'show', 'proxy', 'dev', 'br6');
    assert.ok(!proxies.includes(peer?.address ?? '?'), proxies);
  });
});

/** The next reconcile's changes (registered before the write that causes it). */
function nextReconcile(gateway: PeerGateway): Promise<PeerChanges> {
  return new Promise((resolve) => {
    const off = gateway.onReconciled((changes) => {
      if (changes.added.length + changes.removed.length + changes.updated.length === 0) return;
      off();
      resolve(changes);
    });
  });
}

/** The child's first stdout line (checked against `expected` when given). */
async function firstLine(child: ChildProcess, expected?: string): Promise<string> {
  const lines = createInterface({ input: child.stdout! });
  const [line] = (await Promise.race([once(lines, 'line'), once(child, 'exit').then(() => ['(exited)'])])) as string[];
  lines.close();
  if (expected !== undefined && line !== expected) throw new Error(`expected "${expected}" from the child, got ${line}`);
  return line ?? '';
}
