import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { machineIpv6, sixpnGateway } from '../sixpn.ts';
import { hostNetworkPrefix, hostSixpnAddress } from './prefixes.ts';
import { AGENT_PORT, INTERNET, ORG_A, ORG_B, TwoHosts, type TestHost } from './testing/two-hosts.ts';

const ECHO = 7000;

/**
 * The host side of the private network, end to end: two hosts (namespaces) on a veth
 * underlay, each running wireguard-go configured by aloft's UAPI client, with a Machine
 * of two orgs each, and aloft's nftables rules. Real daemons, real packets.
 */
describe('private network across two hosts (wireguard-go mesh + isolation)', () => {
  let world: TwoHosts;
  let h1: TestHost;
  let h2: TestHost;
  const m = (host: TestHost, org: number) => host.machines.get(org)!;

  before(async () => {
    world = await TwoHosts.create();
    [h1, h2] = world.hosts as [TestHost, TestHost];
    for (const host of world.hosts) {
      await host.firewall.apply(world.policy(host));
      await host.node.start();
    }
    await h1.node.setPeers([world.peerOf(h2)]);
    await h2.node.setPeers([world.peerOf(h1)]);
    // Something listening everywhere a packet might wrongly get to, so a drop is a drop.
    for (const host of world.hosts) {
      await world.kit.echoServer(host.ns, [ECHO, AGENT_PORT]);
      for (const machine of host.machines.values()) await world.kit.echoServer(machine.ns, [ECHO]);
    }
    await world.kit.echoServer(world.internet, [25, 2525, AGENT_PORT]);
  });

  after(async () => {
    await world?.cleanup();
  });

  it('configures each daemon over UAPI: one peer with its prefixes, keepalive 25, MTU 1420', async () => {
    const device = await h1.node.client.get();
    assert.equal(device.listenPort, 51_820);
    assert.equal(device.hasPrivateKey, true);
    assert.equal(device.peers.length, 1);
    const [peer] = device.peers;
    assert.equal(peer?.publicKey, h2.node.publicKey);
    assert.equal(peer?.endpoint, '10.77.0.2:51820');
    assert.equal(peer?.persistentKeepalive, 25);
    assert.deepEqual([...(peer?.allowedIps ?? [])].sort(), [...world.peerOf(h2).prefixes].sort());
    const link = JSON.parse(await world.kit.ip('-j', '-n', h1.ns, 'link', 'show', 'aloftwg')) as { mtu: number }[];
    assert.equal(link[0]?.mtu, 1420);
    assert.deepEqual(await h1.node.tunnel.routes(), [...world.peerOf(h2).prefixes].sort());
  });

  it('carries same-org traffic between hosts, and the underlay sees only WireGuard UDP', async () => {
    assert.equal(await world.kit.probeUntilOk(m(h1, ORG_A).ns, m(h2, ORG_A).ipv6, ECHO), 'ok');
    assert.equal(await world.kit.probe(m(h2, ORG_B).ns, m(h1, ORG_B).ipv6, ECHO), 'ok');
    assert.equal(await world.kit.probe(m(h2, ORG_A).ns, m(h1, ORG_A).ipv6, ECHO), 'ok');
    // The host itself (network 0, as the proxy would) reaches Machines on the other host.
    assert.equal(await world.kit.probe(h1.ns, m(h2, ORG_B).ipv6, ECHO), 'ok');
    const counts = await world.underlayCounts();
    assert.ok(counts.wireguard > 10, `WireGuard packets on the underlay: ${counts.wireguard}`);
    assert.equal(counts.other, 0, 'packets on the underlay other than WireGuard UDP (and ARP)');
    const [peer] = (await h1.node.client.get()).peers;
    assert.ok((peer?.lastHandshakeMs ?? 0) > 0 && (peer?.rxBytes ?? 0) > 0, 'a handshake happened and data came in');
  });

  it('drops cross-org traffic both ways, across hosts, on one host and on the bridge itself', async () => {
    const before = { h1: await h1.firewall.dropped(), h2: await h2.firewall.dropped() };
    const answers = await Promise.all([
      world.kit.probe(m(h1, ORG_A).ns, m(h2, ORG_B).ipv6, ECHO),
      world.kit.probe(m(h2, ORG_B).ns, m(h1, ORG_A).ipv6, ECHO),
      world.kit.probe(m(h1, ORG_B).ns, m(h1, ORG_A).ipv6, ECHO),
      // IPv4 between Machines of one bridge (the same subnet, switched, never routed).
      world.kit.probe(m(h1, ORG_A).ns, m(h1, ORG_B).ipv4, ECHO),
    ]);
    assert.deepEqual(answers, ['ETIMEDOUT', 'ETIMEDOUT', 'ETIMEDOUT', 'ETIMEDOUT']);
    // A Machine that routes another org's /80 on-link goes around the router: the bridge drops it.
    await world.kit.ip('-n', m(h1, ORG_A).ns, '-6', 'route', 'add', hostNetworkPrefix(ORG_B, 1), 'dev', 'eth0');
    assert.equal(await world.kit.probe(m(h1, ORG_A).ns, m(h1, ORG_B).ipv6, ECHO), 'ETIMEDOUT');
    const afterward = { h1: await h1.firewall.dropped(), h2: await h2.firewall.dropped() };
    assert.ok(afterward.h1.cross_org > before.h1.cross_org, 'host 1 counted cross-org drops');
    assert.ok(afterward.h2.cross_org > before.h2.cross_org, 'host 2 counted cross-org drops');
    // Same-org traffic still flows.
    assert.equal(await world.kit.probe(m(h1, ORG_B).ns, m(h2, ORG_B).ipv6, ECHO), 'ok');
  });

  it("drops a Machine that claims another org's address (its own kernel, its own rules)", async () => {
    // Machine A takes an address of org B's /80 on host 1 (and so an on-link route to it).
    const spoofed = machineIpv6(ORG_B, 1, 99);
    await world.kit.ip('-n', m(h1, ORG_A).ns, '-6', 'addr', 'add', `${spoofed}/80`, 'dev', 'eth0', 'nodad');
    try {
      const spoofDrops = (await h1.firewall.dropped()).spoof;
      const answers = await Promise.all([
        world.kit.probe(m(h1, ORG_A).ns, m(h1, ORG_B).ipv6, ECHO, 1000, spoofed),
        world.kit.probe(m(h1, ORG_A).ns, m(h2, ORG_B).ipv6, ECHO, 1000, spoofed),
      ]);
      // On the bridge even its neighbour solicitations are dropped: no answer, or "unreachable".
      assert.ok(answers.every((answer) => answer === 'ETIMEDOUT' || answer === 'EHOSTUNREACH'), answers.join());
      assert.ok((await h1.firewall.dropped()).spoof > spoofDrops, 'counted as spoofing');
      // Without the source checks the same packets get through: the check is what stops them.
      const { machines: _listed, ...unchecked } = world.policy(h1);
      await h1.firewall.apply(unchecked);
      // Forget the neighbour resolution that failed under the checks, or the kernel answers "unreachable" from its cache.
      await world.kit.ip('-n', m(h1, ORG_A).ns, 'neigh', 'flush', 'dev', 'eth0');
      assert.equal(await world.kit.probe(m(h1, ORG_A).ns, m(h1, ORG_B).ipv6, ECHO, 1000, spoofed), 'ok');
    } finally {
      await world.kit.ip('-n', m(h1, ORG_A).ns, '-6', 'addr', 'del', `${spoofed}/80`, 'dev', 'eth0');
      await h1.firewall.apply(world.policy(h1));
    }
    assert.equal(await world.kit.probe(m(h1, ORG_A).ns, m(h2, ORG_A).ipv6, ECHO), 'ok');
  });

  it('a receiving host drops cross-org traffic from the mesh even when the sender lets it out', async () => {
    await h1.firewall.remove();
    try {
      const drops = (await h2.firewall.dropped()).cross_org;
      assert.equal(await world.kit.probe(m(h1, ORG_A).ns, m(h2, ORG_B).ipv6, ECHO), 'ETIMEDOUT');
      assert.ok((await h2.firewall.dropped()).cross_org > drops);
      assert.equal(await world.kit.probe(m(h1, ORG_A).ns, m(h2, ORG_A).ipv6, ECHO), 'ok');
    } finally {
      await h1.firewall.apply(world.policy(h1));
    }
  });

  it("drops Machines' traffic to hosts' addresses and to the agent API port", async () => {
    const answers = await Promise.all([
      world.kit.probe(m(h1, ORG_A).ns, sixpnGateway(ORG_A, 1), ECHO),
      world.kit.probe(m(h1, ORG_A).ns, hostSixpnAddress(1), ECHO),
      world.kit.probe(m(h2, ORG_A).ns, hostSixpnAddress(1), ECHO),
      world.kit.probe(m(h1, ORG_A).ns, '172.19.0.1', AGENT_PORT),
      world.kit.probe(m(h1, ORG_A).ns, '10.77.0.2', AGENT_PORT),
      world.kit.probe(m(h1, ORG_A).ns, INTERNET, AGENT_PORT),
    ]);
    assert.deepEqual(answers, Array(6).fill('ETIMEDOUT'));
    assert.ok((await h1.firewall.dropped()).host > 0);
    // Host → Machine still works (replies are allowed back).
    assert.equal(await world.kit.probe(h1.ns, m(h1, ORG_A).ipv6, ECHO), 'ok');
  });

  it("drops 6PN that arrives from outside the mesh, even with a host's source address", async () => {
    // A neighbour on host 1's uplink poses as host 99 (network 0, which may reach Machines)
    // and host 1 even has a route back to it: only the interface gives it away.
    const fake = hostSixpnAddress(99);
    await world.kit.ip('-n', h1.ns, '-6', 'addr', 'add', 'fd00:99::1/64', 'dev', 'up0', 'nodad');
    await world.kit.ip('-n', h1.ns, '-6', 'route', 'add', `${fake}/128`, 'via', 'fd00:99::2', 'dev', 'up0');
    await world.kit.ip('-n', world.internet, '-6', 'addr', 'add', `${fake}/128`, 'dev', 'up0', 'nodad');
    await world.kit.ip('-n', world.internet, '-6', 'addr', 'add', 'fd00:99::2/64', 'dev', 'up0', 'nodad');
    await world.kit.ip('-n', world.internet, '-6', 'route', 'add', 'fdaa::/16', 'via', 'fd00:99::1', 'dev', 'up0');
    const drops = (await h1.firewall.dropped()).cross_org;
    assert.equal(await world.kit.probe(world.internet, m(h1, ORG_A).ipv6, ECHO, 1000, fake), 'ETIMEDOUT');
    assert.ok((await h1.firewall.dropped()).cross_org > drops);
  });

  it('blocks outbound TCP 25 per org until that org is allowed', async () => {
    assert.equal(await world.kit.probe(m(h1, ORG_A).ns, INTERNET, 2525), 'ok');
    assert.equal(await world.kit.probe(m(h1, ORG_A).ns, INTERNET, 25), 'ETIMEDOUT');
    const smtpDrops = (await h1.firewall.dropped()).smtp;
    assert.ok(smtpDrops > 0);
    await h1.firewall.applySmtp(world.policy(h1, [ORG_A]));
    assert.equal(await world.kit.probe(m(h1, ORG_A).ns, INTERNET, 25), 'ok');
    assert.equal(await world.kit.probe(m(h1, ORG_B).ns, INTERNET, 25), 'ETIMEDOUT');
    await h1.firewall.applySmtp(world.policy(h1));
    assert.equal(await world.kit.probe(m(h1, ORG_A).ns, INTERNET, 25), 'ETIMEDOUT');
  });

  it('a host that leaves the mesh is unreachable, and reachable again when it rejoins', async () => {
    const left = await h1.node.setPeers([]);
    assert.deepEqual(left.removed, [h2.node.publicKey]);
    assert.deepEqual((await h1.node.client.get()).peers, []);
    assert.deepEqual(await h1.node.tunnel.routes(), []);
    assert.notEqual(await world.kit.probe(m(h1, ORG_A).ns, m(h2, ORG_A).ipv6, ECHO, 1000), 'ok');
    const rejoined = await h1.node.setPeers([world.peerOf(h2)]);
    assert.deepEqual(rejoined.added, [h2.ns]);
    assert.equal(await world.kit.probeUntilOk(m(h1, ORG_A).ns, m(h2, ORG_A).ipv6, ECHO), 'ok');
    // Nothing changed: nothing is sent.
    assert.deepEqual(await h1.node.setPeers([world.peerOf(h2)]), { added: [], removed: [], updated: [] });
  });

  it('restarts a killed wireguard-go and restores its configuration and traffic', async () => {
    const oldPid = h2.node.supervisor.pid!;
    const ready = once(h2.node.supervisor, 'ready');
    process.kill(oldPid, 'SIGKILL');
    const [{ pid }] = (await ready) as [{ pid: number }];
    assert.notEqual(pid, oldPid);
    assert.equal((await h2.node.client.get()).peers[0]?.publicKey, h1.node.publicKey);
    assert.equal(await world.kit.probeUntilOk(m(h2, ORG_A).ns, m(h1, ORG_A).ipv6, ECHO), 'ok');
    assert.equal(await world.kit.probeUntilOk(m(h1, ORG_B).ns, m(h2, ORG_B).ipv6, ECHO), 'ok');
    const counts = await world.underlayCounts();
    assert.equal(counts.other, 0);
  });
});
