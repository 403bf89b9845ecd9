import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { buildHelloImage } from '../../examples/hello/build.ts';
import { helloMachineConfig } from '../../examples/hello/app.ts';
import { ApiClient, type MachineView } from '../../src/cli/api-client.ts';
import { freePort } from '../../src/lib/testing/free-port.ts';
import { openSqliteStore, type Store } from '../../src/store/index.ts';
import type { Change } from '../../src/store/store.ts';
import { ChangeRecorder } from '../../src/store/testing.ts';
import { cleanUpHost, type PlatformProcessOptions } from '../e2e/platform-process.ts';

const ALOFT = join(import.meta.dirname, '..', '..', 'bin', 'aloft.js');
/** Short beats, so a dead host is found in about a second. */
const BEAT = '300ms';

/** One cluster process (`aloft api` or `aloft agent`), started as a user would. */
class ClusterProcess {
  child: ChildProcess | undefined;
  output = '';

  constructor(readonly args: string[]) {}

  /** Resolves once it says it is up; rejects with its output if it exits first. */
  start(): Promise<void> {
    const child = spawn(process.execPath, [ALOFT, ...this.args], { env: { ...process.env, ALOFT_LOG: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    this.output = '';
    return new Promise((resolve, reject) => {
      const onData = (chunk: Buffer): void => {
        this.output += chunk.toString();
        if (/aloft (api|agent) is up/.test(this.output)) resolve();
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.once('exit', (code, signal) => reject(new Error(`aloft ${this.args[0]} exited (${code ?? signal}) before it was up:\n${this.output}`)));
    });
  }

  /** Sends `signal` to this process (by its own PID) and resolves when it has exited. */
  stop(signal: NodeJS.Signals): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      child.once('exit', () => resolve());
      child.kill(signal);
    });
  }
}

/**
 * Cluster mode end to end on one machine: `aloft api` and two `aloft agent`s (hosts
 * cl-a and cl-b, one region, each with its own data dir, bridge, subnet and 6PN number)
 * as separate processes sharing one SQLite store. Real Machines (the hello example
 * under gVisor) land on both hosts, exec reaches each through its host's RPC, and a
 * SIGKILLed agent's host is marked down and its restartable Machines come back on the
 * other host.
 */
describe('cluster: api + two agents on one SQLite store', { timeout: 300_000 }, () => {
  let root: string;
  let api: ClusterProcess;
  const agents = new Map<string, { process: ClusterProcess; options: PlatformProcessOptions }>();
  let client: ApiClient;
  let store: Store;
  const machineIds = new Set<string>();

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'aloft-cluster-'));
    const storeUrl = `sqlite:${join(root, 'aloft.db')}`;
    const apiDir = join(root, 'api');
    const apiPort = await freePort();
    api = new ClusterProcess(['api', '--data-dir', apiDir, '--store', storeUrl, '--host', '127.0.0.1', '--port', String(apiPort), '--heartbeat-interval', BEAT, '--missed-heartbeats', '3']);
    await api.start();
    const suffix = Math.floor(Math.random() * 200) + 20;
    for (const [i, hostId] of ['cl-a', 'cl-b'].entries()) {
      const options: PlatformProcessOptions = {
        dataDir: join(root, hostId),
        apiPort: 0,
        proxyPort: 0,
        bridge: `altcl${i}x${suffix}`,
        ipv4Subnet: `172.${16 + ((suffix + i) % 16)}.${suffix + i}.0/24`,
        hostNumber: 2000 + suffix * 2 + i,
      };
      const agent = new ClusterProcess([
        'agent', '--host-id', hostId, '--data-dir', options.dataDir, '--store', storeUrl, '--region', 'local',
        '--host-number', String(options.hostNumber), '--ipv4-subnet', options.ipv4Subnet, '--bridge', options.bridge,
        '--runtime', 'runsc', '--control-port', '0', '--token-file', join(apiDir, 'api-token'),
        '--secrets-key', join(apiDir, 'secrets.key'), '--heartbeat-interval', BEAT,
        // Both hosts share this machine's network: each its own free mesh port.
        '--mesh-port', '0',
      ]);
      agents.set(hostId, { process: agent, options });
      await agent.start();
    }
    store = await openSqliteStore({ path: join(root, 'aloft.db') });
    const { readFile } = await import('node:fs/promises');
    client = new ApiClient({ baseUrl: `http://127.0.0.1:${apiPort}`, token: (await readFile(join(apiDir, 'api-token'), 'utf8')).trim() });
  });

  after(async () => {
    // Every process by its own PID, then what the Machines left: sandboxes, netns, bridges, mounts.
    await api?.stop('SIGKILL');
    for (const { process } of agents.values()) await process.stop('SIGKILL');
    if (store) {
      for (const m of await store.listMachines({ includeDestroyed: true })) machineIds.add(m.id);
      await store.close();
    }
    for (const { options } of agents.values()) cleanUpHost(options, machineIds);
    if (root) await rm(root, { recursive: true, force: true });
  });

  /** Creates a Machine through the API; its host is read from the store (Fly's view does not show it). */
  async function create(config: ReturnType<typeof helloMachineConfig>): Promise<{ id: string; name: string; host_id: string }> {
    const machine = await client.post<MachineView>('/apps/hello/machines', { config });
    machineIds.add(machine.id);
    return { id: machine.id, name: machine.name, host_id: (await store.getMachine(machine.id))!.hostId };
  }

  async function execId(machine: { id: string }): Promise<string> {
    const result = await client.post<{ stdout: string; exit_code: number }>(`/apps/hello/machines/${machine.id}/exec`, { command: ['/bin/sh', '-c', 'echo $FLY_MACHINE_ID'] });
    assert.equal(result.exit_code, 0);
    return result.stdout.trim();
  }

  test('both hosts register, Machines land on both, exec reaches each one’s host; a killed host’s restartable Machines move', async () => {
    const hosts = await store.listHosts();
    assert.deepEqual(hosts.map((h) => [h.id, h.status, h.region]), [['cl-a', 'up', 'local'], ['cl-b', 'up', 'local']]);
    for (const h of hosts) {
      assert.match(h.controlUrl ?? '', /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.ok(h.capacity.cpus > 0 && h.capacity.memoryMb > 0 && h.capacity.diskGb > 0, JSON.stringify(h.capacity));
      assert.match(h.wireguardPublicKey ?? '', /^[A-Za-z0-9+/]{43}=$/);
    }

    const image = await buildHelloImage(join(root, 'hello-image'));
    await client.post('/apps', { app_name: 'hello', org_slug: 'personal' });
    // Placement picks a host at random: create until both have one (2^-9 odds of needing more).
    const restartable: { id: string; name: string; host_id: string }[] = [];
    for (let i = 0; i < 10 && new Set(restartable.map((m) => m.host_id)).size < 2; i++) restartable.push(await create(helloMachineConfig(image)));
    assert.equal(new Set(restartable.map((m) => m.host_id)).size, 2, 'Machines on both hosts');
    const never = await create({ ...helloMachineConfig(image), restart: { policy: 'no' } });
    for (const m of [...restartable, never]) await client.get(`/apps/hello/machines/${m.id}/wait?state=started&timeout=60`);

    // exec goes to the Machine's own host: the other host's agent has no such sandbox and refuses it.
    for (const m of [...restartable, never]) assert.equal(await execId(m), m.id);

    // Kill the agent of the host the restart-policy-no Machine is on.
    const victim = never.host_id;
    const survivor = victim === 'cl-a' ? 'cl-b' : 'cl-a';
    const moving = restartable.filter((m) => m.host_id === victim);
    assert.ok(moving.length >= 1);
    const recorder = new ChangeRecorder(store, { fromRevision: await store.revision() });
    await agents.get(victim)!.process.stop('SIGKILL');

    const replacementOf = (changes: readonly Change[], id: string): string | undefined => {
      for (const c of changes) {
        if (c.kind === 'machine' && c.op === 'put' && c.key === id && c.machine.state === 'migrated') return c.machine.id;
      }
      return undefined;
    };
    const startedOn = (changes: readonly Change[], name: string): string | undefined =>
      changes.find((c) => c.kind === 'machine' && c.op === 'put' && c.machine.name === name && c.machine.hostId === survivor && c.machine.state === 'started')?.key;
    const changes = await recorder.waitFor(
      (cs) => cs.some((c) => c.kind === 'host' && c.op === 'put' && c.key === victim && c.host.status === 'down') && moving.every((m) => replacementOf(cs, m.id) && startedOn(cs, m.name)),
      120_000,
    );
    recorder.stop();
    const down = await store.getHost(victim);
    assert.equal(down?.status, 'down');
    assert.match(down?.downReason ?? '', /no heartbeat for/);

    for (const old of moving) {
      const events = await store.listEvents(old.id);
      const migrate = events.find((e) => e.type === 'migrate');
      assert.match(String(migrate?.request?.['reason']), new RegExp(`host ${victim} is down`));
      const fresh = startedOn(changes, old.name)!;
      machineIds.add(fresh);
      assert.equal(migrate?.request?.['replacement'], fresh);
      // The replacement runs on the survivor, and exec reaches it there.
      assert.equal(await execId({ id: fresh }), fresh);
    }
    // Restart policy 'no': left where it was, not re-placed.
    const kept = await store.getMachine(never.id);
    assert.equal(kept?.hostId, victim);
    assert.notEqual(kept?.state, 'migrated');
    await assert.rejects(client.post(`/apps/hello/machines/${never.id}/exec`, { command: ['/bin/true'] }), /HOST_DOWN|must be up/);
    // New Machines go only to the host that is up.
    const after = await create(helloMachineConfig(image));
    assert.equal(after.host_id, survivor);

    // The killed host's agent starts again: it registers (up), removes the sandboxes of
    // the Machines that moved away, and serves the one that stayed.
    const victimAgent = agents.get(victim)!;
    await victimAgent.process.start();
    assert.equal((await store.getHost(victim))?.status, 'up');
    const listed = spawnSync('runsc', ['--root', join(victimAgent.options.dataDir, 'runsc'), 'list', '--quiet'], { encoding: 'utf8' });
    const sandboxes = new Set(listed.stdout.split('\n').filter(Boolean));
    for (const old of moving) assert.equal(sandboxes.has(old.id), false, `${old.id} moved away and its sandbox is gone`);
    assert.equal(sandboxes.has(never.id), true);
    assert.equal(await execId(never), never.id);
  });
});
