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
import { BACKHAUL_INTERFACE } from '../../src/edge/backhaul/index.ts';
import { freePort } from '../../src/lib/testing/free-port.ts';
import { hostNetworkPrefix, hostSixpnAddress, INFRA_NETWORK, normalizeCidr, UapiClient } from '../../src/net/wireguard/index.ts';
import { meshInterfaceFor, tableFor } from '../../src/platform/private-network.ts';
import { openSqliteStore, type Store } from '../../src/store/index.ts';
import { ChangeRecorder } from '../../src/store/testing.ts';
import { fails, runAloft } from '../cli/cli-runner.ts';
import { cleanUpHost, type PlatformProcessOptions } from '../e2e/platform-process.ts';
import { run, until } from './cluster-testing.ts';

const ALOFT = join(import.meta.dirname, '..', '..', 'bin', 'aloft.js');
const BEAT = '300ms';
const MESH_PORT = 51820;
const UNDERLAY = 'ul0';
const MGMT = 'mg0';
const DOMAIN = 'edge.test';

/** Starts `args` under `nsenter --net` (the child's PID is the program's own) and resolves once `ready` shows in its output. */
function startIn(ns: string, args: string[], ready: RegExp, sink: { output: string }): Promise<ChildProcess> {
  const child = spawn('nsenter', [`--net=/var/run/netns/${ns}`, process.execPath, ALOFT, ...args], { env: { ...process.env, ALOFT_LOG: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] });
  sink.output = '';
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      sink.output += chunk.toString();
      if (ready.test(sink.output)) resolve(child);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code, signal) => reject(new Error(`${args[0]} in ${ns} exited (${code ?? signal}) before it was up:\n${sink.output}`)));
  });
}

describe('aloft proxy backhaul flags', () => {
  test('each bad or missing flag is refused before anything starts', async () => {
    const cases: [string[], RegExp][] = [
      [['--edge-id', 'e1'], /Cannot start the proxy as 'underlay' must be given with --edge-id/],
      [['--underlay', '10.0.0.1:51820', '--edge-id', 'e1', '--host-number', '9'], /'underlay' must be an IPv4 or IPv6 address without a port .*: got "10\.0\.0\.1:51820"/],
      [['--underlay', '10.0.0.1', '--host-number', '9'], /'edge-id' must be given with --underlay/],
      [['--underlay', '10.0.0.1', '--edge-id', 'Edge_1', '--host-number', '9'], /'edge-id' must be lowercase letters, digits and dashes, at most 63 long: got "Edge_1"/],
      [['--underlay', '10.0.0.1', '--edge-id', 'e1'], /'host-number' must be given with --underlay/],
      [['--underlay', '10.0.0.1', '--edge-id', 'e1', '--host-number', '0'], /'host-number' must be an integer from 1 to 4294967295: got "0"/],
      [['--underlay', '10.0.0.1', '--edge-id', 'e1', '--host-number', '9', '--mesh-port', '70000'], /'mesh-port' must be a port number from 0 to 65535: got "70000"/],
      [['--underlay', '10.0.0.1', '--edge-id', 'e1', '--host-number', '9', '--region', 'nowhere'], /REGION_UNKNOWN|'region'/],
    ];
    const runs = await Promise.all(cases.map(([args]) => runAloft(['proxy', '--store', 'sqlite:/nonexistent/aloft.db', ...args], {})));
    for (const [i, [, message]] of cases.entries()) fails(runs[i]!, message);
  });
});

/**
 * Issue 9's backhaul: one host (a network namespace running `aloft agent` with Machines
 * of two orgs under gVisor) and one edge (a namespace running `aloft proxy` on the
 * backhaul), joined only by a veth underlay that carries WireGuard, on one shared
 * SQLite store with `aloft api` in the root namespace (which reaches the host's control
 * RPC over a management veth; the edge has none). A request to the edge's proxy
 * reaches the host's Machine over 6PN; orgs stay apart; a stopped edge leaves the mesh.
 */
describe('cluster: an edge proxy on the WireGuard backhaul', { timeout: 240_000 }, () => {
  const tag = randomBytes(3).toString('hex');
  const mgmtNet = 16 + (randomBytes(1)[0]! % 200);
  const suffix = Number.parseInt(tag.slice(0, 2), 16);
  const hostNs = `albh${tag}h`;
  const edgeNs = `albh${tag}e`;
  const rootPort = `alb${tag}m`;
  const hostId = `bh-host-${tag}`;
  const edgeId = `bh-edge-${tag}`;
  const hostUnderlay = '10.78.0.1';
  const edgeUnderlay = '10.78.0.2';
  const hostMgmt = `198.18.${mgmtNet}.2`;
  const edgeNumber = 5000 + suffix * 2 + 1;
  const app1 = `bh${tag}o1`;
  const app2 = `bh${tag}o2`;
  const org2 = `bh${tag}other`;
  let root = '';
  let options: PlatformProcessOptions;
  let edgeDir = '';
  let api: ChildProcess | undefined;
  const apiOut = { output: '' };
  let agent: ChildProcess | undefined;
  const agentOut = { output: '' };
  let edge: ChildProcess | undefined;
  const edgeOut = { output: '' };
  let edgePort = 0;
  let edgeArgs: string[] = [];
  let client: ApiClient;
  let store: Store;
  const machineIds = new Set<string>();
  const placed: Record<'o1' | 'o2', { id: string; app: string; ipv6: string }> = { o1: { id: '', app: app1, ipv6: '' }, o2: { id: '', app: app2, ipv6: '' } };

  const kill = (child: ChildProcess | undefined): Promise<void> => {
    if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
  };
  const wireguardPids = (ns: string): number[] =>
    (spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).stdout ?? '')
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
  const hostUapi = (): UapiClient => new UapiClient(join(options.dataDir, 'wireguard', 'run', `${meshInterfaceFor(options.bridge)}.sock`));
  const edgeUapi = (): UapiClient => new UapiClient(join(edgeDir, 'edge-wireguard', 'run', `${BACKHAUL_INTERFACE}.sock`));
  const peerKeys = async (uapi: UapiClient): Promise<string[]> => (await uapi.get()).peers.map((p) => p.publicKey);
  const nftCounters = (ns: string, family: string, table: string): Record<string, number> => {
    const json = JSON.parse(run('ip', ['netns', 'exec', ns, 'nft', '-j', 'list', 'counters', 'table', family, table])) as { nftables: { counter?: { name: string; packets: number } }[] };
    return Object.fromEntries(json.nftables.flatMap((item) => (item.counter ? [[item.counter.name, item.counter.packets]] : [])));
  };
  /** Packets into either end from the underlay: WireGuard's port, anything else (ARP not counted). */
  const underlayCounts = (): { wireguard: number; other: number } => {
    const total = { wireguard: 0, other: 0 };
    for (const ns of [hostNs, edgeNs]) {
      const counts = nftCounters(ns, 'netdev', 'underlay_probe');
      total.wireguard += counts['wireguard'] ?? 0;
      total.other += counts['other'] ?? 0;
    }
    return total;
  };
  /** A request to the edge's proxy from inside the edge namespace (it has no other link). */
  const viaEdge = (app: string, attempts = 1): { status: number; body: string } => {
    const out = spawnSync('ip', ['netns', 'exec', edgeNs, 'curl', '-sS', '--retry', String(attempts - 1), '--retry-all-errors', '--retry-delay', '1', '-m', '10', '-H', `Host: ${app}.${DOMAIN}`, '-w', '\n%{http_code}', `http://127.0.0.1:${edgePort}/`], { encoding: 'utf8' });
    const text = out.stdout ?? '';
    const cut = text.lastIndexOf('\n');
    return { status: Number(text.slice(cut + 1)), body: `${text.slice(0, cut)}${out.stderr ?? ''}` };
  };
  const sh = async (m: { id: string; app: string }, script: string): Promise<string> => {
    const result = await client.post<{ stdout: string }>(`/apps/${m.app}/machines/${m.id}/exec`, { command: ['/bin/busybox', 'sh', '-c', script], timeout: 30 });
    return result.stdout;
  };

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'aloft-backhaul-'));
    edgeDir = join(root, 'edge');
    options = {
      dataDir: join(root, 'host'),
      apiPort: 0,
      proxyPort: 0,
      bridge: `albb${tag}h`,
      ipv4Subnet: `172.${16 + (suffix % 16)}.${suffix}.0/24`,
      hostNumber: 5000 + suffix * 2,
    };
    for (const ns of [hostNs, edgeNs]) run('ip', ['netns', 'add', ns]);
    // The underlay: IPv4 only (IPv6's link-local chatter would blur the proof that only WireGuard crosses).
    run('ip', ['-n', hostNs, 'link', 'add', UNDERLAY, 'type', 'veth', 'peer', 'name', UNDERLAY, 'netns', edgeNs]);
    for (const [ns, address] of [[hostNs, hostUnderlay], [edgeNs, edgeUnderlay]] as const) {
      run('ip', ['netns', 'exec', ns, 'sysctl', '-qw', `net.ipv6.conf.${UNDERLAY}.disable_ipv6=1`]);
      run('ip', ['-n', ns, 'addr', 'add', `${address}/24`, 'dev', UNDERLAY]);
      for (const link of ['lo', UNDERLAY]) run('ip', ['-n', ns, 'link', 'set', link, 'up']);
      run('ip', ['netns', 'exec', ns, 'nft', '-f', '-'], `table netdev underlay_probe {
  counter wireguard {
  }
  counter other {
  }
  chain ingress {
    type filter hook ingress device "${UNDERLAY}" priority 0; policy accept;
    ether type ip udp dport ${MESH_PORT} counter name "wireguard" accept
    ether type arp accept
    counter name "other" accept
  }
}
`);
    }
    // The host's management link: only the API's calls to its control RPC.
    run('ip', ['link', 'add', rootPort, 'type', 'veth', 'peer', 'name', MGMT, 'netns', hostNs]);
    run('ip', ['addr', 'add', `198.18.${mgmtNet}.1/30`, 'dev', rootPort]);
    run('ip', ['link', 'set', rootPort, 'up']);
    run('ip', ['netns', 'exec', hostNs, 'sysctl', '-qw', `net.ipv6.conf.${MGMT}.disable_ipv6=1`]);
    run('ip', ['-n', hostNs, 'addr', 'add', `${hostMgmt}/30`, 'dev', MGMT]);
    run('ip', ['-n', hostNs, 'link', 'set', MGMT, 'up']);

    const storeUrl = `sqlite:${join(root, 'aloft.db')}`;
    const apiDir = join(root, 'api');
    const apiPort = await freePort();
    api = spawn(process.execPath, [ALOFT, 'api', '--data-dir', apiDir, '--store', storeUrl, '--host', '127.0.0.1', '--port', String(apiPort), '--heartbeat-interval', BEAT, '--missed-heartbeats', '3'], {
      env: { ...process.env, ALOFT_LOG: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    await new Promise<void>((resolve, reject) => {
      const onData = (chunk: Buffer): void => {
        apiOut.output += chunk.toString();
        if (/aloft api is up/.test(apiOut.output)) resolve();
      };
      api!.stdout!.on('data', onData);
      api!.stderr!.on('data', onData);
      api!.once('exit', (code) => reject(new Error(`aloft api exited (${code}):\n${apiOut.output}`)));
    });
    agent = await startIn(hostNs, [
      'agent', '--host-id', hostId, '--data-dir', options.dataDir, '--store', storeUrl, '--region', 'local',
      '--host-number', String(options.hostNumber), '--ipv4-subnet', options.ipv4Subnet, '--bridge', options.bridge,
      '--runtime', 'runsc', '--control-host', hostMgmt, '--control-port', '0', '--token-file', join(apiDir, 'api-token'),
      '--secrets-key', join(apiDir, 'secrets.key'), '--heartbeat-interval', BEAT,
      '--mesh-port', String(MESH_PORT), '--underlay', hostUnderlay,
    ], /aloft agent is up/, agentOut);
    edgePort = await freePort();
    edgeArgs = [
      'proxy', '--data-dir', edgeDir, '--store', storeUrl, '--host', '127.0.0.1', '--port', String(edgePort), '--no-tls',
      '--domain', DOMAIN, '--region', 'local', '--autostop-interval', '0',
      '--edge-id', edgeId, '--host-number', String(edgeNumber), '--underlay', edgeUnderlay, '--mesh-port', String(MESH_PORT), '--heartbeat-interval', BEAT,
    ];
    edge = await startIn(edgeNs, edgeArgs, /aloft proxy is up/, edgeOut);

    store = await openSqliteStore({ path: join(root, 'aloft.db') });
    client = new ApiClient({ baseUrl: `http://127.0.0.1:${apiPort}`, token: (await readFile(join(apiDir, 'api-token'), 'utf8')).trim() });
    const image = await buildHelloImage(join(root, 'hello-image'));
    await client.post('/orgs', { slug: org2 });
    for (const [key, org] of [['o1', 'personal'], ['o2', org2]] as const) {
      const m = placed[key];
      await client.post('/apps', { app_name: m.app, org_slug: org });
      const base = helloMachineConfig(image);
      // A service check: the edge routes to the Machine only once it passes, so it must run over 6PN too.
      const services = base.services!.map((s) => ({ ...s, checks: [{ type: 'http' as const, path: '/', interval: '1s', timeout: '2s' }] }));
      const made = await client.post<MachineView>(`/apps/${m.app}/machines`, { config: { ...base, services, restart: { policy: 'no' }, stop_config: { signal: 'SIGKILL', timeout: '1s' } } });
      machineIds.add(made.id);
      m.id = made.id;
      await client.get(`/apps/${m.app}/machines/${m.id}/wait?state=started&timeout=60`);
      m.ipv6 = (await client.get<{ private_ip: string }>(`/apps/${m.app}/machines/${m.id}`)).private_ip;
    }
  });

  after(async () => {
    await kill(api);
    await kill(edge);
    await kill(agent);
    for (const ns of [hostNs, edgeNs]) for (const pid of wireguardPids(ns)) process.kill(pid, 'SIGKILL');
    if (store) {
      for (const m of await store.listMachines({ includeDestroyed: true })) machineIds.add(m.id);
      await store.close();
    }
    if (options) cleanUpHost(options, machineIds);
    for (const ns of [hostNs, edgeNs]) spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    spawnSync('ip', ['link', 'del', rootPort], { stdio: 'ignore' });
    if (root !== '') await rm(root, { recursive: true, force: true });
  });

  test('the edge registers as an edge, peers with the host both ways, and the scheduler never places on it', async () => {
    const entry = await store.getHost(edgeId);
    assert.equal(entry?.role, 'edge');
    assert.equal(entry?.status, 'up');
    assert.equal(entry?.addresses.underlay, `${edgeUnderlay}:${MESH_PORT}`);
    const hostKey = (await store.getHost(hostId))!.wireguardPublicKey!;
    await until('host and edge to have each other as their one peer', async () => (await peerKeys(hostUapi())).join() === entry!.wireguardPublicKey && (await peerKeys(edgeUapi())).join() === hostKey);
    const hostPeer = (await hostUapi().get()).peers[0]!;
    assert.deepEqual(hostPeer.allowedIps.map((cidr) => normalizeCidr('test', 'cidr', cidr)), [normalizeCidr('test', 'cidr', hostNetworkPrefix(INFRA_NETWORK, edgeNumber))], 'an edge is allowed only its own /80 in network 0');
    assert.equal(hostPeer.endpoint, `${edgeUnderlay}:${MESH_PORT}`);
    // Scale's plan for 4 more: every one on the one host, none on the edge (up, in the same region).
    const plan = await client.post<{ created: { host: string }[] }>(`/apps/${app1}/scale/count`, { count: 5, dry_run: true });
    assert.equal(plan.created.length, 4);
    assert.deepEqual([...new Set(plan.created.map((c) => c.host))], [hostId]);
  });

  test("a request to the edge's proxy reaches the host's Machine over 6PN; the underlay carries only WireGuard", async () => {
    const before = underlayCounts();
    // The first request may wait for the first handshake and the proxy's first passing check.
    const res = viaEdge(app1, 20);
    assert.equal(res.status, 200, res.body);
    assert.match(res.body, new RegExp(`app=${app1} machine=${placed.o1.id}`));
    const other = viaEdge(app2, 5);
    assert.match(other.body, new RegExp(`app=${app2} machine=${placed.o2.id}`));
    // The edge has no route to the host's Machine IPv4 subnet (only the underlay /24 and
    // the tunnel's 6PN routes), so an answer at all means the proxy dialled 6PN.
    assert.doesNotMatch(run('ip', ['-n', edgeNs, '-4', 'route', 'show']), new RegExp(options.ipv4Subnet.split('.').slice(0, 2).join('\\.')));
    const counts = underlayCounts();
    assert.ok(counts.wireguard > before.wireguard, `WireGuard packets on the underlay: ${JSON.stringify(counts)}`);
    assert.equal(counts.other, 0, `packets on the underlay other than WireGuard UDP and ARP: ${JSON.stringify(counts)}`);
    console.log(`edge-backhaul: underlay ${JSON.stringify(counts)}`);
  });

  test('a Machine of another org is still refused from a Machine, and Machines cannot reach the edge', async () => {
    const table = tableFor(options.bridge);
    const drops = nftCounters(hostNs, 'inet', table)['cross_org'] ?? 0;
    const cross = await sh(placed.o1, `busybox timeout 3 wget -q -O - 'http://[${placed.o2.ipv6}]:8080/' 2>&1; echo "exit=$?"`);
    assert.doesNotMatch(cross, /app=|exit=0/, cross);
    const toEdge = await sh(placed.o1, `busybox timeout 3 wget -q -O - 'http://[${hostSixpnAddress(edgeNumber)}]:${edgePort}/' 2>&1; echo "exit=$?"`);
    assert.doesNotMatch(toEdge, /exit=0/, toEdge);
    assert.ok((nftCounters(hostNs, 'inet', table)['cross_org'] ?? 0) >= drops + 2, 'both were dropped by the host’s isolation rules');
    assert.equal(underlayCounts().other, 0);
  });

  test("the edge reaches only Machines' service ports: another port of the same Machine is dropped by the host's rules", async () => {
    // A second listener inside the Machine, on a port no service names.
    const started = await sh(placed.o1, 'busybox httpd -p 9000 -h /tmp; echo "exit=$?"');
    assert.match(started, /exit=0/, started);
    const curl = (ns: string, port: number): { status: number | null; code: string } => {
      const out = spawnSync('ip', ['netns', 'exec', ns, 'curl', '-sS', '-m', '3', '-o', '/dev/null', '-w', '%{http_code}', `http://[${placed.o1.ipv6}]:${port}/`], { encoding: 'utf8' });
      return { status: out.status, code: out.stdout };
    };
    // The host itself reaches it over its bridge: the listener is up.
    assert.match(curl(hostNs, 9000).code, /^[1-5]\d\d$/);
    const table = tableFor(options.bridge);
    const drops = nftCounters(hostNs, 'inet', table)['edge'] ?? 0;
    const refused = curl(edgeNs, 9000);
    assert.notEqual(refused.status, 0, `the edge reached port 9000: ${refused.code}`);
    assert.ok((nftCounters(hostNs, 'inet', table)['edge'] ?? 0) > drops, 'dropped by the edge rule');
    // The service port still answers the edge; the host itself is not the edge's to reach:
    // dropped (curl times out, 28), not refused by the host's kernel (7).
    assert.equal(curl(edgeNs, 8080).code, '200');
    const before = nftCounters(hostNs, 'inet', table)['edge'] ?? 0;
    const hostItself = spawnSync('ip', ['netns', 'exec', edgeNs, 'curl', '-sS', '-m', '2', `http://[${hostSixpnAddress(options.hostNumber)}]:9/`], { encoding: 'utf8' });
    assert.equal(hostItself.status, 28, hostItself.stderr);
    assert.ok((nftCounters(hostNs, 'inet', table)['edge'] ?? 0) > before);
  });

  test('an edge killed outright leaves its wireguard-go behind, which its next start ends; it serves again', async () => {
    const [old] = wireguardPids(edgeNs);
    assert.ok(old !== undefined);
    await kill(edge);
    assert.deepEqual(wireguardPids(edgeNs), [old], 'SIGKILL gives the edge no chance to stop it');
    edge = await startIn(edgeNs, edgeArgs, /aloft proxy is up/, edgeOut);
    await until('the leftover wireguard-go to exit', async () => !wireguardPids(edgeNs).includes(old));
    assert.equal(wireguardPids(edgeNs).length, 1);
    assert.equal((await store.getHost(edgeId))?.status, 'up');
    const res = viaEdge(app1, 20);
    assert.equal(res.status, 200, res.body);
    assert.match(res.body, new RegExp(`machine=${placed.o1.id}`));
  });

  test('a stopped edge leaves the registry and the mesh: its wireguard-go and interface are gone, and the host drops it', async () => {
    const recorder = new ChangeRecorder(store, { fromRevision: await store.revision() });
    assert.equal(wireguardPids(edgeNs).length, 1);
    const exited = new Promise<number | null>((resolve) => edge!.once('exit', (code) => resolve(code)));
    edge!.kill('SIGTERM');
    assert.equal(await exited, 0, edgeOut.output);
    await recorder.waitFor((cs) => cs.some((c) => c.kind === 'host' && c.op === 'delete' && c.key === edgeId), 10_000);
    recorder.stop();
    assert.deepEqual(wireguardPids(edgeNs), []);
    assert.notEqual(spawnSync('ip', ['-n', edgeNs, 'link', 'show', BACKHAUL_INTERFACE]).status, 0, 'the WireGuard interface is gone');
    assert.equal(await store.getHost(edgeId), undefined);
    await until('the host to drop the edge', async () => (await peerKeys(hostUapi())).length === 0);
  });
});
