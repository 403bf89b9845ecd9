import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { connect } from 'node:net';
import { once } from 'node:events';
import { execCommand, type CommandResult, type CommandRunner } from '../lib/command.ts';
import { isAloftError } from '../lib/errors.ts';
import { LinuxHostNetwork } from './linux-host-network.ts';
import { machineIpv6 } from './sixpn.ts';

/** A fake `ip` that records calls and answers from a script of (args prefix → result). */
function fakeIp(answers: [string, Partial<CommandResult>][] = []): { run: CommandRunner; calls: string[] } {
  const calls: string[] = [];
  const run: CommandRunner = async (file, args) => {
    const line = [file, ...args].join(' ');
    calls.push(line);
    const answer = answers.find(([prefix]) => line.startsWith(prefix))?.[1] ?? {};
    return { code: 0, stdout: '', stderr: '', ...answer };
  };
  return { run, calls };
}

const ADDRS = { ipv4: '172.19.0.2', ipv6: machineIpv6(1, 1, 5) };

describe('LinuxHostNetwork (argument building)', () => {
  it('creates the bridge with its IPv4 gateway and brings it up', async () => {
    const { run, calls } = fakeIp();
    await new LinuxHostNetwork({ run }).ensureBridge();
    assert.deepEqual(calls, [
      'ip link add aloft0 type bridge',
      'ip addr replace 172.19.0.1/16 dev aloft0',
      'ip link set aloft0 up',
    ]);
  });

  it('tolerates a bridge that already exists', async () => {
    const { run, calls } = fakeIp([['ip link add', { code: 2, stderr: 'RTNETLINK answers: File exists' }]]);
    await new LinuxHostNetwork({ run, bridge: 'br9' }).ensureBridge();
    assert.equal(calls.length, 3);
  });

  it('attaches a new machine: netns, veth into the bridge, eth0 addresses and routes', async () => {
    const { run, calls } = fakeIp([['ip -j -n aloft-m1 link show', { stdout: '[{"ifname":"lo"}]' }]]);
    const result = await new LinuxHostNetwork({ run }).attach('m1', ADDRS);
    assert.deepEqual(result, { netnsPath: '/var/run/netns/aloft-m1' });
    assert.deepEqual(calls, [
      'ip netns add aloft-m1',
      'ip -j -n aloft-m1 link show',
      'ip link del vmm1',
      'ip link add vmm1 type veth peer name vpm1 netns aloft-m1',
      'ip -n aloft-m1 link set vpm1 name eth0',
      'ip link set vmm1 master aloft0',
      'ip link set vmm1 up',
      'ip addr replace fdaa:0:1:0:1::1/80 dev aloft0 nodad',
      'ip -n aloft-m1 link set lo up',
      'ip -n aloft-m1 addr replace 172.19.0.2/16 dev eth0',
      'ip -n aloft-m1 addr replace fdaa:0:1:0:1:0:5:2/80 dev eth0 nodad',
      'ip -n aloft-m1 link set eth0 up',
      'ip -n aloft-m1 route replace default via 172.19.0.1 dev eth0',
      'ip -n aloft-m1 -6 route replace default via fdaa:0:1:0:1::1 dev eth0',
      'ip -n aloft-m1 -6 route replace fdaa::/16 via fdaa:0:1:0:1::1 dev eth0 mtu 1420',
    ]);
  });

  it('re-attaching keeps the existing veth and re-applies addresses', async () => {
    const { run, calls } = fakeIp([
      ['ip netns add', { code: 1, stderr: 'Cannot create namespace file "/run/netns/aloft-m1": File exists' }],
      ['ip -j -n aloft-m1 link show', { stdout: '[{"ifname":"lo"},{"ifname":"eth0"}]' }],
    ]);
    await new LinuxHostNetwork({ run }).attach('m1', ADDRS);
    assert.ok(!calls.some((call) => call.includes('veth')));
    assert.ok(calls.includes('ip -n aloft-m1 addr replace 172.19.0.2/16 dev eth0'));
  });

  it('truncates the veth name to 15 characters', () => {
    const network = new LinuxHostNetwork({ run: fakeIp().run });
    assert.equal(network.hostVethName('0123456789abcd'), 'vm0123456789ab');
  });

  it('removes what it made when a fresh attach fails half-way', async () => {
    const { run, calls } = fakeIp([
      ['ip -j -n', { stdout: '[]' }],
      ['ip link set vmm1 master', { code: 1, stderr: 'Cannot find device "aloft0"' }],
    ]);
    await assert.rejects(
      new LinuxHostNetwork({ run }).attach('m1', ADDRS),
      (err) => isAloftError(err, 'NETWORK_FAILED') && /ip link set vmm1 master aloft0.*Cannot find device/.test(err.message),
    );
    assert.deepEqual(calls.slice(-2), ['ip link del vmm1', 'ip netns del aloft-m1']);
  });

  it('refuses addresses outside the subnet or 6PN, and unsafe ids', async () => {
    const network = new LinuxHostNetwork({ run: fakeIp().run });
    await assert.rejects(network.attach('m1', { ...ADDRS, ipv4: '10.0.0.2' }), /'ipv4' must be a host address inside the subnet/);
    await assert.rejects(network.attach('m1', { ...ADDRS, ipv4: '172.19.0.1' }), /other than the gateway/);
    await assert.rejects(network.attach('m1', { ...ADDRS, ipv6: 'fd00::2' }), /fdaa::\/16/);
    await assert.rejects(network.attach('../x', ADDRS), /'machineId' must be/);
  });

  it('detach is idempotent', async () => {
    const { run, calls } = fakeIp([
      ['ip link del', { code: 1, stderr: 'Cannot find device "vmm1"' }],
      ['ip netns del', { code: 1, stderr: 'Cannot remove namespace file "/run/netns/aloft-m1": No such file or directory' }],
    ]);
    await new LinuxHostNetwork({ run }).detach('m1');
    assert.deepEqual(calls, ['ip link del vmm1', 'ip netns del aloft-m1']);
  });

  it('lists machine ids by netns prefix', async () => {
    const { run } = fakeIp([['ip -j netns list', { stdout: '[{"name":"aloft-b"},{"name":"other"},{"name":"aloft-a","id":0},{"name":"aloft-"}]' }]]);
    assert.deepEqual(await new LinuxHostNetwork({ run }).list(), ['a', 'b']);
  });
});

const isRoot = process.getuid?.() === 0;

describe('LinuxHostNetwork (real, root)', { skip: isRoot ? false : 'needs root' }, () => {
  const tag = randomBytes(3).toString('hex');
  const third = randomInt(0, 256);
  const network = new LinuxHostNetwork({
    bridge: `alt${tag}`,
    netnsPrefix: `alt${tag}-`,
    vethPrefix: 'vt',
    ipv4Subnet: `172.30.${third}.0/24`,
  });
  const id = `n${randomBytes(6).toString('hex')}`;
  const addresses = { ipv4: `172.30.${third}.2`, ipv6: machineIpv6(randomInt(1, 2 ** 32), 7, 9) };
  let server: ChildProcess | undefined;
  const ip = (args: string[]): Promise<CommandResult> => execCommand('ip', args, { timeoutMs: 15_000, errorCode: 'NETWORK_FAILED' });

  async function stopServer(): Promise<void> {
    if (server === undefined || server.exitCode !== null || server.signalCode !== null) return;
    const exited = once(server, 'exit');
    server.kill('SIGKILL');
    await exited;
  }

  before(async () => {
    await network.ensureBridge();
    await network.ensureBridge();
  });

  after(async () => {
    await stopServer();
    await network.detach(id);
    await ip(['link', 'del', network.bridge]);
  });

  it('attaches a netns that the host reaches over IPv4 and IPv6, idempotently', async () => {
    const first = await network.attach(id, addresses);
    const again = await network.attach(id, addresses);
    assert.deepEqual(again, first);
    assert.deepEqual(await network.list(), [id]);
    const route = await ip(['-n', network.netnsName(id), '-6', 'route', 'show', 'fdaa::/16']);
    assert.match(route.stdout, /via fdaa:\S+ dev eth0 .*mtu 1420/, 'other hosts’ 6PN is sized for the tunnel');

    // A tiny TCP server inside the netns says hello; the host connects to both addresses.
    const script = `require('net').createServer((s) => s.end('hi')).listen(7000, '::', () => console.log('ready'))`;
    server = spawn('ip', ['netns', 'exec', network.netnsName(id), process.execPath, '-e', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await once(server.stdout!, 'data');
    for (const host of [addresses.ipv4, addresses.ipv6]) {
      const socket = connect({ host, port: 7000 });
      let text = '';
      socket.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
      await once(socket, 'end');
      assert.equal(text, 'hi', host);
    }
  });

  it('detaches idempotently', async () => {
    await stopServer();
    await network.detach(id);
    await network.detach(id);
    assert.deepEqual(await network.list(), []);
    const link = await ip(['link', 'show', network.hostVethName(id)]);
    assert.notEqual(link.code, 0);
  });
});
