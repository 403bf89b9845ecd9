import assert from 'node:assert/strict';
import { randomBytes, randomInt } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { execCommand } from '../../lib/command.ts';
import { isAloftError } from '../../lib/errors.ts';
import { LinuxHostNetwork } from '../../net/linux-host-network.ts';
import { machineIpv6 } from '../../net/sixpn.ts';
import { attachTap, detachTap, macFor } from './tap.ts';

it('derives a locally administered MAC from the IPv4', () => {
  assert.equal(macFor('172.19.0.5/16'), '02:00:ac:13:00:05');
  assert.equal(macFor('fdaa:0:1:0:1:0:5:2/80'), '02:00:00:05:00:02');
});

it('refuses bad names', async () => {
  await assert.rejects(attachTap('/var/run/netns/x', { tap: 'bad name', stateFile: '/tmp/x' }), (err: unknown) => isAloftError(err, 'INVALID_ARGUMENT') && /'tap' must be/.test(err.message));
  await assert.rejects(attachTap('netns', { stateFile: '/tmp/x' }), (err: unknown) => isAloftError(err, 'INVALID_ARGUMENT') && /'netnsPath' must be an absolute path/.test(err.message));
});

const isRoot = process.getuid?.() === 0;

describe('tap in a Machine netns (real, root)', { skip: isRoot ? false : 'needs root' }, () => {
  const tag = randomBytes(3).toString('hex');
  const third = randomInt(0, 256);
  const network = new LinuxHostNetwork({ bridge: `alt${tag}`, netnsPrefix: `alt${tag}-`, vethPrefix: 'vt', ipv4Subnet: `172.30.${third}.0/24` });
  const id = `t${randomBytes(6).toString('hex')}`;
  const addresses = { ipv4: `172.30.${third}.2`, ipv6: machineIpv6(randomInt(1, 2 ** 32), 7, 9) };
  let dir: string;
  let netnsPath: string;
  const ipIn = async (args: string[]): Promise<string> => (await execCommand('ip', ['-n', network.netnsName(id), ...args], { timeoutMs: 15_000, errorCode: 'NETWORK_FAILED' })).stdout;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'aloft-tap-'));
    await network.ensureBridge();
    ({ netnsPath } = await network.attach(id, addresses));
  });

  after(async () => {
    await network.detach(id);
    await execCommand('ip', ['link', 'del', network.bridge], { timeoutMs: 15_000, errorCode: 'NETWORK_FAILED' });
    await rm(dir, { recursive: true, force: true });
  });

  it('moves the Machine addresses and routes to the guest and bridges a tap with eth0, idempotently', async () => {
    const stateFile = join(dir, 'net.json');
    const before = (await ipIn(['-j', 'addr', 'show', 'dev', 'eth0'])).length;
    assert.ok(before > 0);
    const guest = await attachTap(netnsPath, { stateFile });
    assert.equal(guest.tap, 'tap0');
    assert.equal(guest.mac, macFor(addresses.ipv4));
    assert.deepEqual(guest.addresses.sort(), [`${addresses.ipv4}/24`, `${addresses.ipv6}/80`].sort());
    // The IPv4 and IPv6 defaults, and the 6PN route (MTU 1420 for the WireGuard mesh).
    assert.deepEqual(guest.routes.map((r) => r.destination).sort(), ['default', 'default', 'fdaa::/16']);
    assert.ok(guest.routes.some((r) => r.gateway === `172.30.${third}.1`));

    // What the oci driver would have on eth0 is now the guest's: eth0 holds no global address.
    const eth0 = JSON.parse(await ipIn(['-j', 'addr', 'show', 'dev', 'eth0'])) as { master?: string; addr_info: { scope: string }[] }[];
    assert.deepEqual(eth0[0]!.addr_info.filter((a) => a.scope === 'global'), []);
    assert.equal(eth0[0]!.master, 'br0');
    const tap = JSON.parse(await ipIn(['-j', '-d', 'link', 'show', 'dev', 'tap0'])) as { master?: string; linkinfo?: { info_kind?: string } }[];
    assert.equal(tap[0]!.master, 'br0');
    assert.equal(tap[0]!.linkinfo?.info_kind, 'tun');

    // A second attach (agent or VM restart) finds eth0 bare and reads the record.
    assert.deepEqual(await attachTap(netnsPath, { stateFile }), guest);

    await detachTap(netnsPath, { stateFile });
    await detachTap(netnsPath, { stateFile });
    const links = (JSON.parse(await ipIn(['-j', 'link', 'show'])) as { ifname: string }[]).map((l) => l.ifname).sort();
    assert.deepEqual(links, ['eth0', 'lo']);
    const restored = JSON.parse(await ipIn(['-j', 'addr', 'show', 'dev', 'eth0'])) as { addr_info: { scope: string; local: string }[] }[];
    assert.deepEqual(restored[0]!.addr_info.filter((a) => a.scope === 'global').map((a) => a.local).sort(), [addresses.ipv4, addresses.ipv6].sort());
  });
});
