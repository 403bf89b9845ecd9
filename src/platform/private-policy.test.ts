import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { App, Machine } from '../model/index.ts';
import { checkPolicy } from '../net/isolation/index.ts';
import type { HostRecord } from '../store/index.ts';
import { meshInterfaceFor, tableFor } from './private-network.ts';
import { isolationPolicy, meshPeers, type PolicyFrame } from './private-policy.ts';

const FRAME: PolicyFrame = { bridge: 'aloft0', machinePortPrefix: 'vm', tunnel: 'aloft0-wg', agentPorts: [4280], localAddresses: ['10.0.0.5'], dnsPort: 53 };

const app = (name: string, orgSlug: string, network: number): App => ({ id: name, name, orgSlug, network, status: 'deployed', createdAt: 0 });
const machine = (id: string, appName: string, hostId: string, ipv4: string): Machine =>
  ({ id, appName, hostId, addresses: { ipv4, ipv6: 'fdaa::2' } }) as unknown as Machine;
const host = (id: string, number: number, extra: Partial<HostRecord> = {}): HostRecord => ({
  id,
  region: 'local',
  number,
  ipv4Subnet: '172.19.0.0/16',
  capacity: { cpus: 1, memoryMb: 1024, diskGb: 10, gpus: [] },
  drivers: ['runsc'],
  wireguardPublicKey: 'x'.repeat(43) + '=',
  addresses: { underlay: `192.0.2.${number}:51820`, sixpnPrefix: `fdaa:0:0:${number}::/80` },
  controlUrl: null,
  registeredAt: 0,
  heartbeatAt: 0,
  status: 'up',
  ...extra,
});

describe('private network policy from the store', () => {
  it('one org entry per network, with its Machines’ IPv4 on this host only; the resolver as the one host service', () => {
    const policy = isolationPolicy(FRAME, {
      apps: [app('a', 'one', 1), app('b', 'one', 1), app('c', 'two', 2)],
      machines: [machine('m1', 'a', 'h1', '172.19.0.3'), machine('m2', 'b', 'h1', '172.19.0.2'), machine('m3', 'c', 'h2', '172.19.0.9')],
      hosts: [host('h2', 2)],
      hostId: 'h1',
    });
    assert.deepEqual(policy.orgs, [
      { network: 1, allowSmtp: false, ipv4: ['172.19.0.2', '172.19.0.3'] },
      { network: 2, allowSmtp: false, ipv4: [] },
    ]);
    assert.deepEqual(policy.hostAddresses, ['10.0.0.5', '192.0.2.2'], 'this machine and every registered underlay');
    assert.deepEqual(policy.hostServices, [
      { address: 'fdaa::3', protocol: 'udp', port: 53 },
      { address: 'fdaa::3', protocol: 'tcp', port: 53 },
    ]);
    checkPolicy(policy); // what HostFirewall.apply will accept
    const elsewhere = isolationPolicy({ ...FRAME, dnsPort: 5353 }, { apps: [], machines: [], hosts: [], hostId: 'h1' });
    assert.deepEqual(elsewhere.hostServices?.map((s) => s.listenPort), [5353, 5353], 'another platform holds port 53: redirected');
  });

  it('peers are the other hosts that are up with a key and an underlay, each with a /80 per org network', () => {
    const peers = meshPeers({
      apps: [app('a', 'one', 1), app('c', 'two', 2)],
      machines: [],
      hosts: [host('h1', 1), host('h2', 2), host('h3', 3, { status: 'down' }), host('h4', 4, { wireguardPublicKey: null }), host('h5', 5, { addresses: { underlay: '[2001:db8::5]:51820', sixpnPrefix: 'fdaa:0:0:5::/80' } })],
      hostId: 'h1',
    });
    assert.deepEqual(peers.map((peer) => [peer.id, peer.endpoint, peer.prefixes]), [
      ['h2', '192.0.2.2:51820', ['fdaa::2:0:0:0/80', 'fdaa:0:1:0:2::/80', 'fdaa:0:2:0:2::/80']],
      ['h5', '[2001:db8::5]:51820', ['fdaa::5:0:0:0/80', 'fdaa:0:1:0:5::/80', 'fdaa:0:2:0:5::/80']],
    ]);
    const policy = isolationPolicy(FRAME, { apps: [], machines: [], hosts: [host('h5', 5, { addresses: { underlay: '[2001:db8::5]:51820', sixpnPrefix: '' } })], hostId: 'h1' });
    assert.deepEqual(policy.hostAddresses, ['10.0.0.5', '2001:db8::5']);
  });

  it('an edge is a peer allowed only its own /80 in network 0, and may reach only this host’s Machines’ service ports', () => {
    const edge = host('e1', 9, { role: 'edge', ipv4Subnet: '', drivers: [] });
    const facts = {
      apps: [app('a', 'one', 1)],
      machines: [
        { ...machine('m1', 'a', 'h1', '172.19.0.3'), state: 'started', addresses: { ipv4: '172.19.0.3', ipv6: 'fdaa:0:1:0:1:0:1:2' }, config: { image: 'x', services: [{ protocol: 'tcp', internal_port: 8080, checks: [{ type: 'tcp', port: 9090 }] }, { protocol: 'udp', internal_port: 5353 }] } },
        { ...machine('m2', 'a', 'h2', '172.19.0.4'), state: 'started', addresses: { ipv4: '172.19.0.4', ipv6: 'fdaa:0:1:0:2:0:1:2' }, config: { image: 'x', services: [{ protocol: 'tcp', internal_port: 8080 }] } },
        { ...machine('m3', 'a', 'h1', '172.19.0.5'), state: 'destroyed', addresses: { ipv4: '172.19.0.5', ipv6: 'fdaa:0:1:0:1:0:2:2' }, config: { image: 'x', services: [{ protocol: 'tcp', internal_port: 8080 }] } },
      ] as unknown as Machine[],
      hosts: [host('h2', 2), edge],
      hostId: 'h1',
    };
    const peers = meshPeers(facts);
    assert.deepEqual(peers.map((peer) => [peer.id, peer.prefixes]), [
      ['h2', ['fdaa::2:0:0:0/80', 'fdaa:0:1:0:2::/80']],
      ['e1', ['fdaa::9:0:0:0/80']],
    ]);
    const policy = isolationPolicy(FRAME, facts);
    assert.deepEqual(policy.edges, {
      sources: ['fdaa::9:0:0:0/80'],
      targets: [
        { address: 'fdaa:0:1:0:1:0:1:2', protocol: 'tcp', port: 8080 },
        { address: 'fdaa:0:1:0:1:0:1:2', protocol: 'tcp', port: 9090 },
        { address: 'fdaa:0:1:0:1:0:1:2', protocol: 'udp', port: 5353 },
      ],
    }, "this host's live Machines only, each service's internal_port and its checks' own ports");
    assert.ok(policy.hostAddresses.includes('192.0.2.9'), "Machines may not reach the edge's underlay");
    checkPolicy(policy);
    assert.deepEqual(isolationPolicy(FRAME, { ...facts, hosts: [host('h2', 2)] }).edges, { sources: [], targets: [] }, 'no edge: no targets');
  });

  it('names its table and tunnel after the bridge, within nft’s and the kernel’s limits', () => {
    assert.equal(tableFor('aloft0'), 'aloft_aloft0');
    assert.equal(tableFor('br-x.1'), 'aloft_br_x_1');
    assert.equal(meshInterfaceFor('aloft0'), 'aloft0-wg');
    assert.equal(meshInterfaceFor('abcdefghijklmno').length, 15);
  });
});
