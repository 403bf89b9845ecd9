import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { buildHelloImage } from '../../examples/hello/build.ts';
import type { ApiClient } from '../../src/cli/api-client.ts';
import { readFileSync } from 'node:fs';
import { hostSixpnAddress, publicKeyOf, UapiClient } from '../../src/net/wireguard/index.ts';
import { openSqliteStore } from '../../src/store/index.ts';
import { meshInterfaceFor, tableFor } from '../../src/platform/private-network.ts';
import { startTestPlatform, type TestPlatform } from './platform-process.ts';

interface Exec {
  stdout: string;
}

const SMTP_NET = '2001:db8:25::1/64';
const SMTP_TARGET = '2001:db8:25::25';

/**
 * The private network end to end, as `aloft up` wires it: two orgs, Machines under
 * gVisor. A Machine resolves `<app>.internal` of its own org through fdaa::3 (its
 * /etc/resolv.conf) and reaches that Machine over 6PN; the other org's Machine is
 * unreachable and its name is NXDOMAIN; outbound TCP 25 is dropped by the host's rules.
 */
describe('private network: per-org DNS and 6PN isolation on a real host', { timeout: 180_000 }, () => {
  let harness: TestPlatform | undefined;
  let client: ApiClient;
  let dummy = '';
  let squatter: Socket | undefined;
  const machines: Record<string, { id: string; ipv6: string }> = {};

  // The API allows a Machine 3 execs in a burst then 1/s, so each test runs its commands
  // in one shell per Machine, the parts of its output split by '@@'. (`timeout`, not
  // wget's -T, which crashes Debian 12's busybox.)
  const sh = async (app: string, script: string): Promise<string[]> => {
    const result = await client.post<Exec>(`/apps/${app}/machines/${machines[app]!.id}/exec`, { command: ['/bin/busybox', 'sh', '-c', script], timeout: 20 });
    return result.stdout.split('@@\n');
  };
  const nft = (args: string[]): string => {
    const out = spawnSync('nft', args, { encoding: 'utf8' });
    assert.equal(out.status, 0, out.stderr);
    return out.stdout;
  };
  /**
   * Packets dropped for `name` by every platform's rules on this machine: another
   * `aloft up` running beside this test (its tables hook the same forward path) may
   * be the one whose rule drops first.
   */
  const counter = (name: string): number => {
    const json = JSON.parse(nft(['-j', 'list', 'counters', 'table', 'inet', tableFor(harness!.platform.options.bridge)])) as { nftables: { counter?: { name: string; packets: number } }[] };
    let packets = json.nftables.find((item) => item.counter?.name === name)?.counter?.packets ?? 0;
    const others = (JSON.parse(nft(['-j', 'list', 'tables', 'inet'])) as { nftables: { table?: { name: string } }[] }).nftables
      .map((item) => item.table?.name ?? '')
      .filter((table) => table.startsWith('aloft_') && table !== tableFor(harness!.platform.options.bridge));
    for (const table of others) {
      const listed = spawnSync('nft', ['-j', 'list', 'counter', 'inet', table, name], { encoding: 'utf8' });
      if (listed.status === 0) packets += (JSON.parse(listed.stdout) as { nftables: { counter?: { packets: number } }[] }).nftables.find((item) => item.counter)?.counter?.packets ?? 0;
    }
    return packets;
  };

  before(async () => {
    // A veth pair whose far end answers nobody: a route out of the host for the SMTP
    // check. It also holds fdaa::3, whose port 53 this test takes first, as another
    // platform on the machine would: this one must then redirect its Machines' queries.
    dummy = `altpn${process.pid % 100_000}smtp`.slice(0, 15);
    const peer = `${dummy.slice(0, 14)}p`;
    for (const args of [['link', 'add', dummy, 'type', 'veth', 'peer', 'name', peer], ['addr', 'add', SMTP_NET, 'dev', dummy, 'nodad'], ['addr', 'add', 'fdaa::3/128', 'dev', dummy, 'nodad'], ['link', 'set', peer, 'up'], ['link', 'set', dummy, 'up']]) {
      const out = spawnSync('ip', args, { encoding: 'utf8' });
      assert.equal(out.status, 0, out.stderr);
    }
    squatter = createSocket('udp6');
    // Already held by a real platform on this machine: the case this stands in for.
    squatter.on('error', () => undefined);
    await new Promise<void>((resolve) => {
      squatter!.once('listening', resolve).once('error', () => resolve());
      squatter!.bind(53, 'fdaa::3');
    });
    harness = await startTestPlatform('pnet');
    client = harness.client;
    const image = await buildHelloImage(join(harness.dataDir, 'hello-image'));
    await client.post('/orgs', { slug: 'pnet-other' });
    const apps: [string, string][] = [['pnet-a1', 'personal'], ['pnet-a2', 'personal'], ['pnet-b1', 'pnet-other']];
    for (const [app, org] of apps) {
      await client.post('/apps', { app_name: app, org_slug: org });
      const created = await client.post<{ id: string }>(`/apps/${app}/machines`, { config: { image, stop_config: { signal: 'SIGKILL', timeout: '1s' } } });
      harness.machineIds.add(created.id);
      machines[app] = { id: created.id, ipv6: '' };
    }
    for (const [app] of apps) {
      await client.get(`/apps/${app}/machines/${machines[app]!.id}/wait?state=started&timeout=60`);
      const machine = await client.get<{ private_ip: string }>(`/apps/${app}/machines/${machines[app]!.id}`);
      machines[app]!.ipv6 = machine.private_ip;
    }
  });

  after(async () => {
    squatter?.close();
    if (dummy !== '') spawnSync('ip', ['link', 'del', dummy], { stdio: 'ignore' });
    await harness?.close();
  });

  test('every Machine is told fdaa::3, and has its 6PN address and the tunnel-sized 6PN route', async () => {
    const [resolv, hosts, environ] = await sh('pnet-a1', 'cat /etc/resolv.conf; echo @@; cat /etc/hosts; echo @@; cat /proc/1/environ');
    assert.equal(resolv, 'nameserver fdaa::3\n');
    assert.match(hosts!, new RegExp(`${machines['pnet-a1']!.ipv6}\\tfly-local-6pn`));
    assert.ok(environ!.split('\0').includes(`FLY_PRIVATE_IP=${machines['pnet-a1']!.ipv6}`));
    const route = (): string => spawnSync('ip', ['-n', `aloft-${machines['pnet-a1']!.id}`, '-6', 'route', 'show', 'fdaa::/16'], { encoding: 'utf8' }).stdout;
    assert.match(route(), /mtu 1420/);
    // runsc strips eth0 when it takes it over; a restart puts the saved routes back, MTU and all.
    await client.post(`/apps/pnet-a1/machines/${machines['pnet-a1']!.id}/restart`, {});
    await client.get(`/apps/pnet-a1/machines/${machines['pnet-a1']!.id}/wait?state=started&timeout=60`);
    assert.match(route(), /mtu 1420/);
  });

  test('aloft up runs the mesh and the rules, named after its bridge', () => {
    const bridge = harness!.platform.options.bridge;
    const link = spawnSync('ip', ['-j', 'addr', 'show', 'dev', meshInterfaceFor(bridge)], { encoding: 'utf8' });
    assert.equal(link.status, 0, link.stderr);
    const [info] = JSON.parse(link.stdout) as { mtu: number; addr_info: { local: string }[] }[];
    assert.equal(info!.mtu, 1420);
    const address = hostSixpnAddress(harness!.platform.options.hostNumber);
    assert.ok(info!.addr_info.some((a) => a.local === address), `${address} in ${JSON.stringify(info)}`);
    // Port 53 of fdaa::3 was taken (above): queries from its bridge go to its own resolver.
    const rules = nft(['list', 'table', 'inet', tableFor(bridge)]);
    const port = /iifname "[^"]+" ip6 daddr fdaa::3 udp dport 53 dnat ip6 to \[fdaa::3\]:(\d+)/.exec(rules)?.[1];
    assert.ok(port !== undefined && port !== '53', rules);
    assert.match(rules, new RegExp(`ip6 daddr fdaa::3 udp dport ${port} accept`));
    // Both orgs were made after the platform started: their rules came from the store's watch.
    assert.equal(rules.match(/chain org_\d+ \{/g)?.length, 2, rules);
  });

  test('the host registry publishes the mesh’s key; the single host has no peers', async () => {
    const dataDir = harness!.dataDir;
    const store = await openSqliteStore({ path: join(dataDir, 'aloft.db') });
    try {
      const hosts = await store.listHosts();
      assert.equal(hosts.length, 1);
      assert.equal(hosts[0]!.wireguardPublicKey, publicKeyOf(readFileSync(join(dataDir, 'wireguard.key'), 'utf8').trim()));
    } finally {
      await store.close();
    }
    const device = await new UapiClient(join(dataDir, 'wireguard', 'run', `${meshInterfaceFor(harness!.platform.options.bridge)}.sock`)).get();
    assert.equal(device.hasPrivateKey, true);
    assert.deepEqual(device.peers, []);
  });

  test('a Machine resolves its own org’s app through fdaa::3 and reaches it over 6PN', async () => {
    const a2 = machines['pnet-a2']!.ipv6;
    const [looked, page] = await sh('pnet-a1', `busybox nslookup -type=AAAA pnet-a2.internal 2>&1; echo "exit=$?"; echo @@; busybox timeout 5 wget -q -O - 'http://[${a2}]:8080/' 2>&1; echo "exit=$?"`);
    assert.match(looked!, /exit=0\n$/, looked);
    assert.match(looked!, /Server:\s+fdaa::3/);
    assert.ok(looked!.includes(a2), looked);
    assert.match(page!, /app=pnet-a2 [^]*exit=0\n$/, page);
  });

  test('the other org’s Machine is NXDOMAIN and unreachable', async () => {
    const before = counter('cross_org');
    const [looked, page] = await sh('pnet-a2', `busybox nslookup -type=AAAA pnet-b1.internal 2>&1; echo @@; busybox timeout 2 wget -q -O - 'http://[${machines['pnet-b1']!.ipv6}]:8080/' 2>&1; echo "exit=$?"`);
    assert.match(looked!, /NXDOMAIN/);
    assert.doesNotMatch(page!, /app=pnet-b1|exit=0/, 'another org’s Machine must not answer');
    assert.ok(counter('cross_org') > before, 'dropped by the host’s cross-org rule');
    // …and the other way round, where its own org's name resolves but ours does not.
    const [own, back] = await sh('pnet-b1', `busybox nslookup -type=AAAA pnet-a1.internal 2>&1; echo @@; busybox timeout 2 wget -q -O - 'http://[${machines['pnet-a1']!.ipv6}]:8080/' 2>&1; echo "exit=$?"`);
    assert.match(own!, /NXDOMAIN/);
    assert.doesNotMatch(back!, /app=pnet-a1|exit=0/);
  });

  test('outbound TCP 25 is dropped; another port to the same place is not', async () => {
    const smtp = counter('smtp');
    await sh('pnet-a1', `nc -w 2 ${SMTP_TARGET} 25 </dev/null`);
    assert.ok(counter('smtp') > smtp, 'TCP 25 dropped by the host');
    const after25 = counter('smtp');
    await sh('pnet-a2', `nc -w 2 ${SMTP_TARGET} 26 </dev/null`);
    assert.equal(counter('smtp'), after25, 'other ports are not SMTP');
  });

  test('a clean stop takes the rules, the mesh and fdaa::3 away', async () => {
    const bridge = harness!.platform.options.bridge;
    assert.equal(await harness!.platform.stop('SIGTERM'), 0, harness!.platform.output);
    const tables = spawnSync('nft', ['list', 'tables'], { encoding: 'utf8' }).stdout;
    assert.ok(!tables.includes(tableFor(bridge)), tables);
    assert.notEqual(spawnSync('ip', ['link', 'show', meshInterfaceFor(bridge)]).status, 0, 'wireguard-go and its interface are gone');
    assert.doesNotMatch(spawnSync('ip', ['-6', 'addr', 'show', 'dev', bridge], { encoding: 'utf8' }).stdout, /fdaa::3\//);
  });
});
