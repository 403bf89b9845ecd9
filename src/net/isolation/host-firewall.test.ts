import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { CommandRunner } from '../../lib/command.ts';
import { isAloftError } from '../../lib/errors.ts';
import { NetnsKit } from '../wireguard/testing/netns.ts';
import { HostFirewall } from './host-firewall.ts';
import { checkPolicy, type IsolationPolicy } from './policy.ts';
import { renderRuleset, renderSmtpSets } from './ruleset.ts';

const POLICY: IsolationPolicy = {
  orgs: [
    { network: 70_001, allowSmtp: true, ipv4: ['172.19.0.3'] },
    { network: 7, allowSmtp: false, ipv4: ['172.19.0.2'] },
  ],
  bridge: 'aloft0',
  machinePortPrefix: 'vm',
  tunnel: 'aloft-wg',
  hostAddresses: ['10.0.0.1', '10.0.0.0/24', '2001:db8::1'],
  agentPorts: [4280],
  hostServices: [{ address: 'fdaa::3', protocol: 'udp', port: 53 }],
};

/** A fake runner that keeps each command and, for `nft -f`, the script it was given. */
function recorder(code = 0): { run: CommandRunner; calls: string[]; scripts: string[] } {
  const calls: string[] = [];
  const scripts: string[] = [];
  const run: CommandRunner = async (file, args) => {
    calls.push([file, ...args].join(' '));
    const f = args.indexOf('-f');
    if (f >= 0) scripts.push(await readFile(args[f + 1]!, 'utf8'));
    return { code, stdout: '', stderr: code === 0 ? '' : 'Error: Could not process rule' };
  };
  return { run, calls, scripts };
}

describe('isolation policy and rules', () => {
  it('normalises the policy: orgs sorted, host addresses split by family as CIDRs', () => {
    const checked = checkPolicy(POLICY);
    assert.deepEqual(checked.orgs.map((org) => org.network), [7, 70_001]);
    assert.deepEqual(checked.hostAddresses4, ['10.0.0.0/24', '10.0.0.1/32']);
    assert.deepEqual(checked.hostAddresses6, ['2001:db8::1/128']);
  });

  it('refuses a bad policy, naming the field, and runs nothing', async () => {
    const cases: [Partial<IsolationPolicy>, RegExp][] = [
      [{ orgs: [{ network: 0, allowSmtp: false }] }, /'orgs\[0\]\.network' must be an integer from 1 to 4294967295: got 0/],
      [{ orgs: [{ network: 7, allowSmtp: false }, { network: 7, allowSmtp: true }] }, /'orgs\[1\]\.network' must be unique/],
      [{ orgs: [{ network: 7, allowSmtp: false, ipv4: ['fdaa::1'] }] }, /'orgs\[0\]\.ipv4\[0\]' must be an IPv4 address/],
      [{ bridge: 'a bridge' }, /'bridge' must be an interface name/],
      [{ machinePortPrefix: 'vm"; drop' }, /'machinePortPrefix'/],
      [{ hostAddresses: ['10.0.0.300'] }, /'hostAddresses\[0\]'/],
      [{ agentPorts: [0] }, /'agentPorts\[0\]' must be an integer from 1 to 65535/],
      [{ hostServices: [{ address: 'fdaa::3', protocol: 'icmp' as 'udp', port: 53 }] }, /'hostServices\[0\]\.protocol'/],
      [{ hostServices: [{ address: 'fdaa::3', protocol: 'udp', port: 53, listenPort: 70_000 }] }, /'hostServices\[0\]\.listenPort' must be an integer from 1 to 65535/],
      [{ machines: [{ port: 'tap0', ipv6: 'fdaa:0:7:0:1:0:1:2' }] }, /'machines\[0\]\.port' must be an interface name starting with "vm"/],
      [{ machines: [{ port: 'vm0', ipv6: 'fdaa:0:7:0:1:0:1:2' }, { port: 'vm0', ipv6: 'fdaa:0:7:0:1:0:2:2' }] }, /'machines\[1\]\.port' must be unique/],
      [{ machines: [{ port: 'vm0', ipv6: '172.19.0.2' }] }, /'machines\[0\]\.ipv6' must be an IPv6 address/],
      [{ machines: [{ port: 'vm0', ipv6: 'fdaa::2', mac: '02:00:00:00:00' }] }, /'machines\[0\]\.mac'/],
    ];
    const { run, calls } = recorder();
    for (const [change, message] of cases) {
      await assert.rejects(new HostFirewall({ run }).apply({ ...POLICY, ...change }), (err) => isAloftError(err, 'INVALID_ARGUMENT') && message.test(err.message), String(message));
    }
    assert.deepEqual(calls, []);
  });

  it('renders one transaction that recreates only the aloft tables', () => {
    const text = renderRuleset(checkPolicy(POLICY));
    const tables = text.split('\n').filter((line) => /^(table|delete table)/.test(line)).map((line) => line.replace(/ \{$/, ''));
    assert.deepEqual(tables, ['table inet aloft', 'delete table inet aloft', 'table inet aloft', 'table bridge aloft', 'delete table bridge aloft', 'table bridge aloft']);
    assert.match(text, /elements = \{ fdaa::\/48 : accept, fdaa:0:7::\/48 : jump org_7, fdaa:1:1171::\/48 : jump org_70001 \}/);
    assert.match(text, /set smtp6 \{[^}]*elements = \{ fdaa:1:1171::\/48 \}/);
    assert.match(text, /set smtp4 \{[^}]*elements = \{ 172\.19\.0\.3 \}/);
    assert.match(text, /tcp dport \{ 4280 \} counter name "host" drop/);
    assert.match(text, /ip6 daddr fdaa::3 udp dport 53 accept/);
    assert.match(text, /iifname != "vm\*" accept/);
    assert.doesNotMatch(text, /hook prerouting/, 'no source checks unless the Machines are listed');
    const moved = renderRuleset(checkPolicy({ ...POLICY, hostServices: [{ address: 'fdaa::3', protocol: 'udp', port: 53, listenPort: 5353 }] }));
    assert.match(moved, /iifname "aloft0" ip6 daddr fdaa::3 udp dport 53 dnat ip6 to \[fdaa::3\]:5353/);
    assert.match(moved, /ip6 daddr fdaa::3 udp dport 5353 accept/);
    const checked = renderRuleset(checkPolicy({ ...POLICY, machines: [{ port: 'vm1', ipv6: 'fdaa:0:7:0:1:0:1:2', ipv4: '172.19.0.2', mac: '02:AA:00:00:00:01' }] }));
    assert.match(checked, /elements = \{ "vm1" : jump port_0 \}/);
    assert.match(checked, /ether saddr != 02:aa:00:00:00:01 counter name "spoof" drop/);
    assert.match(checked, /ip6 saddr != \{ fdaa:0:7:0:1:0:1:2, fe80::\/10, :: \} counter name "spoof" drop/);
    assert.match(checked, /@th,64,128 != 0xfdaa0000000700000001000000010002 counter name "spoof" drop/);
    assert.match(checked, /arp saddr ip != 172\.19\.0\.2 counter name "spoof" drop/);
    assert.equal(
      renderSmtpSets(checkPolicy({ ...POLICY, orgs: [{ network: 7, allowSmtp: true, ipv4: ['172.19.0.2'] }] })),
      'flush set inet aloft smtp6\nflush set inet aloft smtp4\nadd element inet aloft smtp6 { fdaa:0:7::/48 }\nadd element inet aloft smtp4 { 172.19.0.2 }\n',
    );
  });

  it('runs nft -f inside the namespace, and turns a refusal into FIREWALL_FAILED', async () => {
    const ok = recorder();
    await new HostFirewall({ netns: 'h1', run: ok.run }).apply(POLICY);
    assert.match(ok.calls[0]!, /^ip netns exec h1 nft -f \/tmp\/aloft-nft-[^/]+\/rules\.nft$/);
    assert.equal(ok.scripts[0], renderRuleset(checkPolicy(POLICY)));
    const bad = recorder(1);
    await assert.rejects(new HostFirewall({ run: bad.run }).apply(POLICY), (err) => isAloftError(err, 'FIREWALL_FAILED') && /Could not process rule/.test(err.message));
    assert.match(bad.calls[0]!, /^nft -f /);
  });
});

describe('HostFirewall with nft (in a namespace)', () => {
  const kit = new NetnsKit();
  let ns = '';

  before(async () => {
    ns = await kit.netns(`afw${randomBytes(3).toString('hex')}`);
  });

  after(async () => {
    await kit.cleanup();
  });

  it('applies, re-applies and removes its tables without touching anyone else’s', async () => {
    await kit.exec(ns, 'nft', 'add', 'table', 'inet', 'someone_else');
    const firewall = new HostFirewall({ netns: ns });
    await firewall.apply({ ...POLICY, hostServices: [{ address: 'fdaa::3', protocol: 'udp', port: 53, listenPort: 5353 }] });
    assert.match(await kit.exec(ns, 'nft', 'list', 'chain', 'inet', 'aloft', 'services_dnat'), /dnat ip6 to \[fdaa::3\]:5353/, 'the kernel takes the redirect');
    await firewall.apply(POLICY);
    await firewall.apply({ ...POLICY, orgs: [{ network: 9, allowSmtp: false }] });
    const listed = await kit.exec(ns, 'nft', 'list', 'ruleset');
    assert.match(listed, /table inet someone_else/);
    assert.match(listed, /chain org_9/);
    assert.doesNotMatch(listed, /chain org_7\b/, 're-applying replaced the old rules');
    assert.deepEqual(await firewall.dropped(), { cross_org: 0, host: 0, smtp: 0, between_machines: 0, spoof: 0, edge: 0 });
    await firewall.applySmtp({ ...POLICY, orgs: [{ network: 9, allowSmtp: true, ipv4: ['172.19.0.9'] }] });
    assert.match(await kit.exec(ns, 'nft', 'list', 'set', 'inet', 'aloft', 'smtp4'), /172\.19\.0\.9/);
    await firewall.remove();
    await firewall.remove();
    const rest = await kit.exec(ns, 'nft', 'list', 'ruleset');
    assert.match(rest, /table inet someone_else/);
    assert.doesNotMatch(rest, /aloft/);
  });
  it('keeps two platforms’ tables apart by name: each applies and removes only its own', async () => {
    const one = new HostFirewall({ netns: ns, table: 'aloft_one' });
    const two = new HostFirewall({ netns: ns, table: 'aloft_two' });
    await one.apply(POLICY);
    await two.apply({ ...POLICY, bridge: 'aloft1' });
    const both = await kit.exec(ns, 'nft', 'list', 'ruleset');
    assert.match(both, /table inet aloft_one \{[^]*iifname "aloft0" jump from_machines/);
    assert.match(both, /table inet aloft_two \{[^]*iifname "aloft1" jump from_machines/);
    await one.remove();
    const rest = await kit.exec(ns, 'nft', 'list', 'ruleset');
    assert.doesNotMatch(rest, /aloft_one/);
    assert.match(rest, /table inet aloft_two/);
    await two.remove();
    assert.throws(() => new HostFirewall({ table: 'aloft-0' }), /'table' must be a table name/);
  });
});
