import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { NetnsKit } from '../wireguard/testing/netns.ts';
import { HostFirewall } from './host-firewall.ts';
import { checkPolicy, type IsolationPolicy } from './policy.ts';
import { renderRuleset } from './ruleset.ts';

const POLICY: IsolationPolicy = {
  orgs: [{ network: 7, allowSmtp: false }],
  bridge: 'aloft0',
  machinePortPrefix: 'vm',
  tunnel: 'aloft-wg',
  hostAddresses: ['10.0.0.1'],
  agentPorts: [4280],
  edges: {
    sources: ['fdaa:0:0:1389::/80', 'fdaa::1389:0:0:1'],
    targets: [
      { address: 'fdaa:0:7:0:1:0:1:2', protocol: 'tcp', port: 8080 },
      { address: 'fdaa:0:7:0:1:0:1:2', protocol: 'udp', port: 5353 },
      { address: 'fdaa:0:7:0:1:0:1:2', protocol: 'tcp', port: 8080 },
    ],
  },
};

describe('isolation rules for edges on the backhaul', () => {
  it('normalises edges: sources as canonical IPv6 CIDRs, targets unique', () => {
    const checked = checkPolicy(POLICY);
    assert.deepEqual(checked.edgeSources, ['fdaa:0:0:1389::/80', 'fdaa::1389:0:0:1/128']);
    assert.equal(checked.edgeTargets.length, 2);
    const { edges: _edges, ...none } = POLICY;
    assert.deepEqual(checkPolicy(none).edgeSources, [], 'no edges: none');
  });

  it('refuses bad edges, naming the field', () => {
    const cases: [IsolationPolicy['edges'], RegExp][] = [
      [{ sources: ['10.0.0.0/8'], targets: [] }, /'edges\.sources\[0\]' must be an IPv6 CIDR/],
      [{ sources: ['nope'], targets: [] }, /'edges\.sources\[0\]'/],
      [{ sources: [], targets: [{ address: '172.19.0.2', protocol: 'tcp', port: 80 }] }, /'edges\.targets\[0\]\.address' must be an IPv6 address: got "172\.19\.0\.2"/],
      [{ sources: [], targets: [{ address: 'fdaa::2', protocol: 'sctp' as 'tcp', port: 80 }] }, /'edges\.targets\[0\]\.protocol' must be "tcp" or "udp"/],
      [{ sources: [], targets: [{ address: 'fdaa::2', protocol: 'tcp', port: 0 }] }, /'edges\.targets\[0\]\.port' must be an integer from 1 to 65535: got 0/],
    ];
    for (const [edges, message] of cases) assert.throws(() => checkPolicy({ ...POLICY, edges: edges! }), { code: 'INVALID_ARGUMENT', message });
  });

  it('sends tunnel traffic from edges through their own chain, before the org map, and keeps them off the host', () => {
    const text = renderRuleset(checkPolicy(POLICY));
    const forward = text.slice(text.indexOf('chain forward {'));
    assert.ok(forward.indexOf('ip6 saddr @edge6 jump from_edges') < forward.indexOf('ip6 saddr vmap @org6'), 'edges are judged before network 0 is accepted');
    assert.match(text, /elements = \{ fdaa:0:7:0:1:0:1:2 \. tcp \. 8080, fdaa:0:7:0:1:0:1:2 \. udp \. 5353 \}/);
    assert.match(text, /chain mesh_to_host \{\n {4}ct state established,related accept\n {4}ip6 saddr @edge6 counter name "edge" drop/);
  });
});

describe('edge rules with nft (in a namespace)', () => {
  const kit = new NetnsKit();
  let ns = '';

  before(async () => {
    ns = await kit.netns(`aed${randomBytes(3).toString('hex')}`);
  });

  after(async () => {
    await kit.cleanup();
  });

  it('the kernel takes the edge sets and chain, with and without edges', async () => {
    const firewall = new HostFirewall({ netns: ns });
    await firewall.apply(POLICY);
    const listed = await kit.exec(ns, 'nft', 'list', 'set', 'inet', 'aloft', 'edge_targets');
    assert.match(listed, /fdaa:0:7:0:1:0:1:2 \. tcp \. 8080/);
    await firewall.apply({ ...POLICY, edges: { sources: [], targets: [] } });
    assert.equal((await firewall.dropped()).edge, 0);
    await firewall.remove();
  });
});
