import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { buildHelloImage } from '../../examples/hello/build.ts';
import { helloMachineConfig } from '../../examples/hello/app.ts';
import { ApiClient, type MachineView } from '../../src/cli/api-client.ts';
import { freePort } from '../../src/lib/testing/free-port.ts';
import { UapiClient } from '../../src/net/wireguard/index.ts';
import { meshInterfaceFor, tableFor } from '../../src/platform/private-network.ts';
import { openSqliteStore, type Store } from '../../src/store/index.ts';
import { ChangeRecorder } from '../../src/store/testing.ts';
import { fails, runAloft } from '../cli/cli-runner.ts';
import { cleanUpHost, type PlatformProcessOptions } from '../e2e/platform-process.ts';
import { run, until } from './cluster-testing.ts';

const ALOFT = join(import.meta.dirname, '..', '..', 'bin', 'aloft.js');
const BEAT = '300ms';
const MESH_PORT = 51820;
/** The underlay veth's name inside each host's namespace. */
const UNDERLAY = 'ul0';
/** The management veth (root namespace ↔ host), which carries only the API's calls to each agent's control RPC. */
const MGMT = 'mg0';

interface Host {
  id: string;
  ns: string;
  underlay: string;
  /** The host's address on its management link, where its control RPC listens. */
  mgmt: string;
  rootPort: string;
  options: PlatformProcessOptions;
  args: string[];
  agent?: ChildProcess;
  output: string;
}

interface Placed {
  id: string;
  app: string;
  host: string;
  ipv6: string;
}

describe('aloft agent --underlay', () => {
  test('takes a bare IP address; an address with a port or a name is refused before anything starts', async () => {
    const bad = ['10.0.0.1:51820', 'host-b.example', ''];
    const runs = await Promise.all(bad.map((value) => runAloft(['agent', '--host-id', 'x', '--underlay', value], {})));
    for (const [i, value] of bad.entries()) {
      fails(runs[i]!, new RegExp(`Cannot start the agent as 'underlay' must be an IPv4 or IPv6 address without a port .*: got "${value}"`));
    }
  });
});

/**
 * Issue 8's two hosts, each a network namespace with its own `aloft agent` (joined to
 * it with `nsenter --net`), joined by a veth underlay that only WireGuard may cross,
 * on one shared SQLite store with `aloft api` in the root namespace. Machines of two
 * orgs under gVisor on both hosts: same-org traffic crosses the mesh by 6PN address
 * and by name through fdaa::3, cross-org traffic is dropped both ways, and a host
 * whose agent and wireguard-go are killed leaves the mesh when marked down and is
 * reachable again once its agent is back.
 *
 * Why `nsenter --net` and not `ip netns exec`: the latter also unshares the mount
 * namespace and mounts a fresh /sys, which has no cgroup hierarchies under
 * /sys/fs/cgroup, and runsc cannot place its sandboxes then.
 */
describe('cluster: two hosts in namespaces, agents running the WireGuard mesh', { timeout: 180_000 }, () => {
  const tag = randomBytes(3).toString('hex');
  const mgmtNet = 16 + (randomBytes(1)[0]! % 200);
  let root = '';
  let api: ChildProcess | undefined;
  let apiOutput = '';
  let client: ApiClient;
  let store: Store;
  const hosts: Host[] = [];
  const machineIds = new Set<string>();
  const machines: Record<string, Placed> = {};
  const app1 = `mesh${tag}o1`;
  const app2 = `mesh${tag}o2`;
  const org2 = `mesh${tag}other`;

  const startAgent = (host: Host): Promise<void> => {
    // nsenter execs node in place: the child's PID is the agent's own.
    const child = spawn('nsenter', [`--net=/var/run/netns/${host.ns}`, process.execPath, ALOFT, ...host.args], { env: { ...process.env, ALOFT_LOG: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] });
    host.agent = child;
    host.output = '';
    return new Promise((resolve, reject) => {
      const onData = (chunk: Buffer): void => {
        host.output += chunk.toString();
        if (/aloft agent is up/.test(host.output)) resolve();
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.once('exit', (code, signal) => reject(new Error(`agent ${host.id} exited (${code ?? signal}) before it was up:\n${host.output}`)));
    });
  };
  const kill = (child: ChildProcess | undefined): Promise<void> => {
    if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
  };
  /** The wireguard-go processes inside a host's namespace, by PID. */
  const wireguardPids = (host: Host): number[] =>
    run('ip', ['netns', 'pids', host.ns])
      .split('\n')
      .filter(Boolean)
      .map(Number)
      .filter((pid) => {
        try {
          return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'wireguard-go';
        } catch {
          return false;
        }
      });
  const uapi = (host: Host): UapiClient => new UapiClient(join(host.options.dataDir, 'wireguard', 'run', `${meshInterfaceFor(host.options.bridge)}.sock`));
  const peerKeys = async (host: Host): Promise<string[]> => (await uapi(host).get()).peers.map((p) => p.publicKey);
  const nftCounters = (host: Host, family: string, table: string): Record<string, number> => {
    const json = JSON.parse(run('ip', ['netns', 'exec', host.ns, 'nft', '-j', 'list', 'counters', 'table', family, table])) as { nftables: { counter?: { name: string; packets: number } }[] };
    return Object.fromEntries(json.nftables.flatMap((item) => (item.counter ? [[item.counter.name, item.counter.packets]] : [])));
  };
  /** Packets into either host from the underlay: WireGuard's port, ICMP unreachable (a host's answer while its wireguard-go is down), anything else. */
  const underlayCounts = (): { wireguard: number; unreachable: number; other: number } => {
    const total = { wireguard: 0, unreachable: 0, other: 0 };
    for (const host of hosts) {
      const counts = nftCounters(host, 'netdev', 'mesh_probe');
      total.wireguard += counts['wireguard'] ?? 0;
      total.unreachable += counts['unreachable'] ?? 0;
      total.other += counts['other'] ?? 0;
    }
    return total;
  };
  const crossOrgDrops = (): number => hosts.reduce((sum, host) => sum + (nftCounters(host, 'inet', tableFor(host.options.bridge))['cross_org'] ?? 0), 0);
  /** One shell per call (the API allows a Machine 3 execs in a burst, then 1/s); parts split by '@@'. */
  const sh = async (m: Placed, script: string): Promise<string[]> => {
    const result = await client.post<{ stdout: string }>(`/apps/${m.app}/machines/${m.id}/exec`, { command: ['/bin/busybox', 'sh', '-c', script], timeout: 30 });
    return result.stdout.split('@@\n');
  };
  // `timeout`, not wget's -T, which crashes Debian 12's busybox.
  const wget = (url: string, seconds = 3): string => `busybox timeout ${seconds} wget -q -O - '${url}' 2>&1; echo "exit=$?"`;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'aloft-mesh-'));
    const [a, b] = ['a', 'b'].map((letter, i): Host => {
      const id = `mesh-${letter}`;
      const suffix = Number.parseInt(tag.slice(0, 2), 16);
      return {
        id,
        ns: `almesh${tag}${letter}`,
        underlay: `10.77.0.${i + 1}`,
        mgmt: `198.18.${mgmtNet}.${i * 4 + 2}`,
        rootPort: `alm${tag}${letter}`,
        options: {
          dataDir: join(root, id),
          apiPort: 0,
          proxyPort: 0,
          bridge: `almb${tag}${letter}`,
          ipv4Subnet: `172.${16 + ((suffix + i) % 16)}.${suffix}.0/24`,
          hostNumber: 3000 + suffix * 2 + i,
        },
        args: [],
        output: '',
      };
    }) as [Host, Host];
    hosts.push(a, b);

    // The two hosts: namespaces, an underlay veth between them (IPv4 only: IPv6's
    // link-local chatter would blur the proof that only WireGuard crosses), and a
    // management veth each to the root namespace for the API's control calls.
    for (const host of hosts) run('ip', ['netns', 'add', host.ns]);
    run('ip', ['-n', a.ns, 'link', 'add', UNDERLAY, 'type', 'veth', 'peer', 'name', UNDERLAY, 'netns', b.ns]);
    for (const [i, host] of hosts.entries()) {
      run('ip', ['link', 'add', host.rootPort, 'type', 'veth', 'peer', 'name', MGMT, 'netns', host.ns]);
      run('ip', ['addr', 'add', `198.18.${mgmtNet}.${i * 4 + 1}/30`, 'dev', host.rootPort]);
      run('ip', ['link', 'set', host.rootPort, 'up']);
      run('ip', ['netns', 'exec', host.ns, 'sysctl', '-qw', `net.ipv6.conf.${UNDERLAY}.disable_ipv6=1`, `net.ipv6.conf.${MGMT}.disable_ipv6=1`]);
      run('ip', ['-n', host.ns, 'addr', 'add', `${host.underlay}/24`, 'dev', UNDERLAY]);
      run('ip', ['-n', host.ns, 'addr', 'add', `${host.mgmt}/30`, 'dev', MGMT]);
      for (const link of ['lo', UNDERLAY, MGMT]) run('ip', ['-n', host.ns, 'link', 'set', link, 'up']);
      // Counters on the underlay's ingress: WireGuard's port, ARP, and anything else.
      run('ip', ['netns', 'exec', host.ns, 'nft', '-f', '-'], `table netdev mesh_probe {
  counter wireguard {
  }
  counter unreachable {
  }
  counter other {
  }
  chain ingress {
    type filter hook ingress device "${UNDERLAY}" priority 0; policy accept;
    ether type ip udp dport ${MESH_PORT} counter name "wireguard" accept
    ether type arp accept
    ether type ip icmp type destination-unreachable counter name "unreachable" accept
    counter name "other" accept
  }
}
`);
    }

    const storeUrl = `sqlite:${join(root, 'aloft.db')}`;
    const apiDir = join(root, 'api');
    const apiPort = await freePort();
    api = spawn(process.execPath, [ALOFT, 'api', '--data-dir', apiDir, '--store', storeUrl, '--host', '127.0.0.1', '--port', String(apiPort), '--heartbeat-interval', BEAT, '--missed-heartbeats', '3'], {
      env: { ...process.env, ALOFT_LOG: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    await new Promise<void>((resolve, reject) => {
      const onData = (chunk: Buffer): void => {
        apiOutput += chunk.toString();
        if (/aloft api is up/.test(apiOutput)) resolve();
      };
      api!.stdout!.on('data', onData);
      api!.stderr!.on('data', onData);
      api!.once('exit', (code) => reject(new Error(`aloft api exited (${code}):\n${apiOutput}`)));
    });
    for (const host of hosts) {
      host.args = [
        'agent', '--host-id', host.id, '--data-dir', host.options.dataDir, '--store', storeUrl, '--region', 'local',
        '--host-number', String(host.options.hostNumber), '--ipv4-subnet', host.options.ipv4Subnet, '--bridge', host.options.bridge,
        '--runtime', 'runsc', '--control-host', host.mgmt, '--control-port', '0', '--token-file', join(apiDir, 'api-token'),
        '--secrets-key', join(apiDir, 'secrets.key'), '--heartbeat-interval', BEAT,
        '--mesh-port', String(MESH_PORT), '--underlay', host.underlay,
      ];
      await startAgent(host);
    }
    store = await openSqliteStore({ path: join(root, 'aloft.db') });
    client = new ApiClient({ baseUrl: `http://127.0.0.1:${apiPort}`, token: (await readFile(join(apiDir, 'api-token'), 'utf8')).trim() });

    const image = await buildHelloImage(join(root, 'hello-image'));
    await client.post('/orgs', { slug: org2 });
    for (const [app, org] of [[app1, 'personal'], [app2, org2]] as const) {
      await client.post('/apps', { app_name: app, org_slug: org });
      // One Machine, then scaled to two: scale spreads a group over the hosts, so the copy
      // lands on the other host. Restart policy 'no', so a host marked down keeps its
      // Machines (none is re-placed).
      const first = await client.post<MachineView>(`/apps/${app}/machines`, { config: { ...helloMachineConfig(image), restart: { policy: 'no' }, stop_config: { signal: 'SIGKILL', timeout: '1s' } } });
      machineIds.add(first.id);
      await client.post(`/apps/${app}/scale/count`, { count: 2 });
      for (const m of await store.listMachines({ appName: app })) {
        machineIds.add(m.id);
        machines[`${app === app1 ? 'o1' : 'o2'}${m.hostId === a.id ? 'A' : 'B'}`] = { id: m.id, app, host: m.hostId, ipv6: '' };
      }
    }
    assert.deepEqual(Object.keys(machines).sort(), ['o1A', 'o1B', 'o2A', 'o2B'], 'each app has one Machine on each host');
    for (const m of Object.values(machines)) {
      await client.get(`/apps/${m.app}/machines/${m.id}/wait?state=started&timeout=60`);
      m.ipv6 = (await client.get<{ private_ip: string }>(`/apps/${m.app}/machines/${m.id}`)).private_ip;
    }
  });

  after(async () => {
    // Every process by its own PID, then what the Machines left, then the namespaces
    // (which take their bridges, veths, WireGuard interfaces and nft tables with them).
    await kill(api);
    for (const host of hosts) await kill(host.agent);
    for (const host of hosts) {
      const pids = spawnSync('ip', ['netns', 'pids', host.ns], { encoding: 'utf8' }).stdout ?? '';
      for (const pid of pids.split('\n').filter(Boolean).map(Number)) {
        const comm = spawnSync('cat', [`/proc/${pid}/comm`], { encoding: 'utf8' }).stdout.trim();
        if (comm === 'wireguard-go') process.kill(pid, 'SIGKILL');
      }
    }
    if (store) {
      for (const m of await store.listMachines({ includeDestroyed: true })) machineIds.add(m.id);
      await store.close();
    }
    for (const host of hosts) {
      cleanUpHost(host.options, machineIds);
      spawnSync('ip', ['netns', 'del', host.ns], { stdio: 'ignore' });
      spawnSync('ip', ['link', 'del', host.rootPort], { stdio: 'ignore' });
    }
    if (root !== '') await rm(root, { recursive: true, force: true });
  });

  test('each agent publishes its underlay endpoint and key, and peers with the other host', async () => {
    const registered = await store.listHosts();
    assert.deepEqual(
      registered.map((h) => [h.id, h.status, h.addresses.underlay]),
      hosts.map((h) => [h.id, 'up', `${h.underlay}:${MESH_PORT}`]),
    );
    const [a, b] = hosts as [Host, Host];
    const keyOf = (host: Host): string => registered.find((h) => h.id === host.id)!.wireguardPublicKey!;
    await until('each host to have the other as its one peer', async () => (await peerKeys(a)).join() === keyOf(b) && (await peerKeys(b)).join() === keyOf(a));
    const [peer] = (await uapi(a).get()).peers;
    assert.equal(peer?.endpoint, `${b.underlay}:${MESH_PORT}`);
    // The allowed prefixes: host b's own /80 and one /80 per org network.
    assert.equal(peer?.allowedIps.length, 3, JSON.stringify(peer?.allowedIps));
  });

  test('same-org Machines reach each other across hosts by 6PN address and by name through fdaa::3; the underlay carries only WireGuard', async () => {
    const { o1A, o1B } = machines as Record<string, Placed>;
    const [looked, byAddress, byName] = await sh(o1A!, `busybox nslookup -type=AAAA ${app1}.internal 2>&1; echo @@; ${wget(`http://[${o1B!.ipv6}]:8080/`, 5)}; echo @@; ${wget(`http://${o1B!.id}.vm.${app1}.internal:8080/`)}`);
    assert.match(looked!, /Server:\s+fdaa::3/, looked);
    assert.ok(looked!.includes(o1B!.ipv6) && looked!.includes(o1A!.ipv6), looked);
    assert.match(byAddress!, new RegExp(`app=${app1} machine=${o1B!.id} [^]*exit=0\\n$`), byAddress);
    assert.match(byName!, new RegExp(`app=${app1} machine=${o1B!.id} [^]*exit=0\\n$`), byName);
    // And back, and org 2 the same way.
    const [back] = await sh(o1B!, wget(`http://[${o1A!.ipv6}]:8080/`));
    assert.match(back!, new RegExp(`machine=${o1A!.id} [^]*exit=0\\n$`), back);
    const [org2] = await sh(machines['o2A']!, wget(`http://${machines['o2B']!.id}.vm.${app2}.internal:8080/`));
    assert.match(org2!, new RegExp(`machine=${machines['o2B']!.id} [^]*exit=0\\n$`), org2);
    const counts = underlayCounts();
    assert.ok(counts.wireguard > 10, `WireGuard packets on the underlay: ${counts.wireguard}`);
    assert.deepEqual({ unreachable: counts.unreachable, other: counts.other }, { unreachable: 0, other: 0 }, 'packets on the underlay other than WireGuard UDP (and ARP)');
  });

  test('cross-org traffic across the hosts is refused both ways, and the other org’s names are NXDOMAIN', async () => {
    const { o1A, o1B, o2A, o2B } = machines as Record<string, Placed>;
    const before = crossOrgDrops();
    const [there, name] = await sh(o1A!, `${wget(`http://[${o2B!.ipv6}]:8080/`, 2)}; echo @@; busybox nslookup -type=AAAA ${o2B!.id}.vm.${app2}.internal 2>&1`);
    assert.doesNotMatch(there!, /app=|exit=0/, there);
    assert.match(name!, /NXDOMAIN/, name);
    const [back] = await sh(o2B!, wget(`http://[${o1A!.ipv6}]:8080/`, 2));
    assert.doesNotMatch(back!, /app=|exit=0/, back);
    const [otherWay] = await sh(o1B!, wget(`http://[${o2A!.ipv6}]:8080/`, 2));
    assert.doesNotMatch(otherWay!, /app=|exit=0/, otherWay);
    assert.ok(crossOrgDrops() >= before + 3, `cross-org drops counted: ${before} → ${crossOrgDrops()}`);
    const { unreachable, other } = underlayCounts();
    assert.deepEqual({ unreachable, other }, { unreachable: 0, other: 0 });
  });

  test('a host whose agent and wireguard-go are killed leaves the mesh when marked down, and traffic returns when its agent is back', async () => {
    const [a, b] = hosts as [Host, Host];
    const { o1A, o1B } = machines as Record<string, Placed>;
    const started = Date.now();
    const recorder = new ChangeRecorder(store, { fromRevision: await store.revision() });
    const daemons = wireguardPids(b);
    assert.equal(daemons.length, 1, `one wireguard-go in ${b.ns}`);
    await kill(b.agent);
    for (const pid of wireguardPids(b)) process.kill(pid, 'SIGKILL');
    await recorder.waitFor((cs) => cs.some((c) => c.kind === 'host' && c.op === 'put' && c.key === b.id && c.host.status === 'down'), 30_000);
    recorder.stop();
    const downAfterMs = Date.now() - started;
    // Host a follows the registry: b is no peer of it any more.
    await until('host a to drop host b', async () => (await peerKeys(a)).length === 0);
    const [gone] = await sh(o1A!, wget(`http://[${o1B!.ipv6}]:8080/`, 2));
    assert.doesNotMatch(gone!, /exit=0/, gone);

    const restarted = Date.now();
    await startAgent(b);
    assert.equal((await store.getHost(b.id))?.status, 'up');
    // The first packets wait for a's watch to re-add b and for a handshake: a few tries.
    const [back] = await sh(o1A!, `for i in 1 2 3 4 5 6 7 8 9 10; do busybox timeout 2 wget -q -O - 'http://[${o1B!.ipv6}]:8080/' 2>&1 && break; done; echo "exit=$?"`);
    assert.match(back!, new RegExp(`machine=${o1B!.id} [^]*exit=0\\n$`), back);
    const [reverse] = await sh(o1B!, wget(`http://${o1A!.id}.vm.${app1}.internal:8080/`));
    assert.match(reverse!, new RegExp(`machine=${o1A!.id} [^]*exit=0\\n$`), reverse);
    assert.equal(wireguardPids(b).length, 1);
    // While b's wireguard-go was gone its kernel may answer a's WireGuard packets with
    // ICMP port unreachable (counted apart); nothing else ever crossed.
    const counts = underlayCounts();
    assert.equal(counts.other, 0, JSON.stringify(counts));
    // Figures for the report.
    console.log(`mesh-agents: host b marked down ${downAfterMs} ms after the kill; traffic back ${Date.now() - restarted} ms after its agent was started again; underlay ${JSON.stringify(counts)}`);
  });

  test('a clean stop of an agent takes its mesh down and leaves its running Machines’ isolation rules', async () => {
    const a = hosts[0]!;
    const exited = new Promise<number | null>((resolve) => a.agent!.once('exit', (code) => resolve(code)));
    a.agent!.kill('SIGTERM');
    assert.equal(await exited, 0, a.output);
    assert.deepEqual(wireguardPids(a), []);
    assert.notEqual(spawnSync('ip', ['-n', a.ns, 'link', 'show', meshInterfaceFor(a.options.bridge)]).status, 0, 'the WireGuard interface is gone');
    const rules = run('ip', ['netns', 'exec', a.ns, 'nft', 'list', 'table', 'inet', tableFor(a.options.bridge)]);
    assert.match(rules, /chain org_\d+ \{/);
  });
});
