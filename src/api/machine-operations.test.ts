import { AloftError } from '../lib/errors.ts';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { machineEvent, type MachineState } from '../model/index.ts';
import { openSqliteStore, type Store } from '../store/index.ts';
import type { HostControl } from '../agent/host-control.ts';
import { createApiApp } from './server.ts';
import { fakeImages as images } from './testing/fake-images.ts';
import { singleHostScheduler } from '../scheduler/testing.ts';

const TOKEN = 'test-token';


/** Stands in for the host: records what it is asked, answers as a driver would. */
class FakeHostControl implements HostControl {
  calls: string[] = [];
  async signal(target: { machineId: string }, signal: string): Promise<void> {
    this.calls.push(`signal ${target.machineId} ${signal}`);
  }
  async exec(target: { machineId: string }, request: { args: string[]; timeoutMs: number }) {
    this.calls.push(`exec ${target.machineId} ${request.args.join(' ')} ${request.timeoutMs}`);
    if (request.args[0] === 'hang') throw new AloftError('EXEC_TIMEOUT', 'Cannot exec in machine as the command must finish within 1s');
    return { stdout: `${request.args.join(' ')}\n`, stderr: 'warn\n', exitCode: 3 };
  }
  async ps(target: { machineId: string }) {
    this.calls.push(`ps ${target.machineId}`);
    return [
      { pid: 7, command: 'worker', cpuTimeMs: 50, rssBytes: 1000 },
      { pid: 1, command: 'app', cpuTimeMs: 10, rssBytes: 9000 },
    ];
  }
  // Logs have their own tests (machine-logs-route.test.ts).
  async *logs(): AsyncGenerator<never> {}
}

describe('Machines API: machine operations', () => {
  let store: Store;
  let app: ReturnType<typeof createApiApp>;
  const host = new FakeHostControl();

  const call = async (method: string, path: string, body?: unknown) => {
    const response = await app.request(`/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return { status: response.status, body: (text ? JSON.parse(text) : undefined) as Record<string, unknown> & { error?: string } };
  };

  /** Plays the agent: moves a machine from an intent to its resting state. */
  const settle = (id: string, from: MachineState, to: MachineState) =>
    store.updateMachine(id, { patch: { state: to }, expectState: [from], events: [machineEvent(from, to, 'flyd')] });

  /** A machine resting in `state`, made through the API. */
  const machineIn = async (state: 'created' | 'started' | 'stopped' | 'suspended' | 'destroyed', extra: Record<string, unknown> = {}): Promise<string> => {
    const created = await call('POST', '/apps/ops/machines', { config: { image: 'ok-image', ...extra }, skip_launch: true });
    const id = created.body['id'] as string;
    if (state === 'created') return id;
    await store.updateMachine(id, { patch: { state: 'started' } });
    if (state === 'stopped' || state === 'destroyed' || state === 'suspended') {
      await store.updateMachine(id, { patch: { state: state === 'suspended' ? 'suspended' : 'stopped' } });
    }
    if (state === 'destroyed') await store.updateMachine(id, { patch: { state: 'destroyed' } });
    return id;
  };

  /** Asserts a refused request: its status, that it names what it must, and that it changed nothing. */
  const refused = async (id: string, method: string, path: string, body: unknown, status: number, message: RegExp) => {
    const before = await store.getMachine(id);
    const response = await call(method, path, body);
    assert.equal(response.status, status, JSON.stringify(response.body));
    assert.match(response.body.error!, message);
    assert.deepEqual(await store.getMachine(id), before, 'a refused request changes nothing');
  };

  before(async () => {
    store = await openSqliteStore({ path: ':memory:' });
    app = createApiApp({
      store,
      images,
      hostControl: host,
      rateLimits: false,
      scheduler: singleHostScheduler(),
      token: TOKEN,
    });
    assert.equal((await call('POST', '/apps', { app_name: 'ops' })).status, 201);
  });
  after(() => store.close());

  test('update: new instance id, the old version replaced, a started machine goes updating', async () => {
    const id = await machineIn('started');
    const old = (await store.getMachine(id))!;
    const updated = await call('POST', `/apps/ops/machines/${id}`, { config: { image: 'ok-image-2', env: { V: '2' } }, name: old.name, region: 'local' });
    assert.equal(updated.status, 200, JSON.stringify(updated.body));
    assert.equal(updated.body['state'], 'updating');
    assert.notEqual(updated.body['instance_id'], old.instanceId);
    assert.deepEqual(updated.body['config'], { image: 'ok-image-2', env: { V: '2' } });
    assert.match((updated.body['image_ref'] as { digest: string }).digest, /^sha256:b+$/);
    const versions = (await call('GET', `/apps/ops/machines/${id}/versions`)).body as unknown as { version: string; user_config: unknown; replaced_at?: string }[];
    assert.deepEqual(versions.map((v) => v.version), [updated.body['instance_id'], old.instanceId]);
    assert.equal(versions[0]?.replaced_at, undefined);
    assert.equal(typeof versions[1]?.replaced_at, 'string');
    assert.deepEqual(versions[1]?.user_config, old.config);
  });

  test('update: a stopped machine is started unless skip_launch', async () => {
    const a = await machineIn('stopped');
    assert.equal((await call('POST', `/apps/ops/machines/${a}`, { config: { image: 'ok-image' } })).body['state'], 'updating');
    const b = await machineIn('stopped');
    assert.equal((await call('POST', `/apps/ops/machines/${b}`, { config: { image: 'ok-image' }, skip_launch: true })).body['state'], 'stopped');
  });

  test('update: name and region cannot change; a stale current_version conflicts; bad config names the field', async () => {
    const id = await machineIn('stopped');
    await refused(id, 'POST', `/apps/ops/machines/${id}`, { config: { image: 'ok-image' }, region: 'ams' }, 400, /Cannot update machine .* as 'region' must stay "local": got "ams"/);
    await refused(id, 'POST', `/apps/ops/machines/${id}`, { config: { image: 'ok-image' }, name: 'other' }, 400, /'name' must stay/);
    await refused(id, 'POST', `/apps/ops/machines/${id}`, { config: { image: 'ok-image' }, current_version: 'nope' }, 409, /'current_version' must be its live version/);
    await refused(id, 'POST', `/apps/ops/machines/${id}`, { config: {} }, 400, /'config\.image'/);
  });

  test('restart: a started machine goes restarting with the request’s signal and timeout', async () => {
    const id = await machineIn('started');
    assert.equal((await call('POST', `/apps/ops/machines/${id}/restart?timeout=10&signal=SIGTERM`)).status, 200);
    assert.equal((await store.getMachine(id))?.state, 'restarting');
    const [event] = await store.listEvents(id, { limit: 1 });
    assert.deepEqual(event?.request, { signal: 'SIGTERM', timeout: '10s' });
    const other = await machineIn('started');
    await refused(other, 'POST', `/apps/ops/machines/${other}/restart?timeout=soon`, undefined, 400, /'timeout' must be a Go duration/);
  });

  test('suspend: started → suspending; the agent’s suspended is waitable; start resumes', async () => {
    const id = await machineIn('started');
    assert.equal((await call('POST', `/apps/ops/machines/${id}/suspend`)).status, 200);
    const waiting = call('GET', `/apps/ops/machines/${id}/wait?state=suspended&timeout=5`);
    await settle(id, 'suspending', 'suspended');
    assert.deepEqual((await waiting).body, { ok: true, state: 'suspended' });
    assert.equal((await call('POST', `/apps/ops/machines/${id}/start`)).body['previous_state'], 'suspended');
    assert.equal((await store.getMachine(id))?.state, 'starting');
  });

  test('signal goes to the host; an unknown signal is a 400', async () => {
    const id = await machineIn('started');
    assert.equal((await call('POST', `/apps/ops/machines/${id}/signal`, { signal: 'SIGUSR1' })).status, 200);
    assert.ok(host.calls.includes(`signal ${id} SIGUSR1`));
    await refused(id, 'POST', `/apps/ops/machines/${id}/signal`, { signal: 'SIGNOPE' }, 400, /'signal' must be one of "SIGABRT".*got "SIGNOPE"/);
  });

  test('exec answers stdout, stderr and exit_code; cmd is split; the timeout is bounded', async () => {
    const id = await machineIn('started');
    const out = await call('POST', `/apps/ops/machines/${id}/exec`, { command: ['echo', 'hi there'], timeout: 5 });
    assert.deepEqual(out.body, { stdout: 'echo hi there\n', stderr: 'warn\n', exit_code: 3 });
    assert.ok(host.calls.includes(`exec ${id} echo hi there 5000`));
    assert.equal((await call('POST', `/apps/ops/machines/${id}/exec`, { cmd: 'ls  -l' })).body['stdout'], 'ls -l\n');
    assert.ok(host.calls.includes(`exec ${id} ls -l 30000`), 'default 30 s');
    await refused(id, 'POST', `/apps/ops/machines/${id}/exec`, {}, 400, /'command' must be a non-empty list/);
    await refused(id, 'POST', `/apps/ops/machines/${id}/exec`, { command: ['x'], timeout: 600 }, 400, /'timeout' must be at most 60: got 600/);
    assert.equal((await call('POST', `/apps/ops/machines/${id}/exec`, { command: ['hang'] })).status, 408);
  });

  test('ps answers ProcessStat rows, sorted as asked', async () => {
    const id = await machineIn('started');
    const rows = (await call('GET', `/apps/ops/machines/${id}/ps`)).body as unknown as Record<string, unknown>[];
    assert.deepEqual(rows[0], { pid: 1, command: 'app', cpu: 10, rss: 9000, rtime: 10, stime: 0, directory: '', listen_sockets: [] });
    const byCpu = (await call('GET', `/apps/ops/machines/${id}/ps?sort_by=cpu&order=desc`)).body as unknown as { pid: number }[];
    assert.deepEqual(byCpu.map((r) => r.pid), [7, 1]);
  });

  test('cordon and uncordon set the flag the proxy reads', async () => {
    const id = await machineIn('started');
    assert.equal((await call('POST', `/apps/ops/machines/${id}/cordon`)).status, 200);
    assert.equal((await store.getMachine(id))?.cordoned, true);
    assert.equal((await call('POST', `/apps/ops/machines/${id}/uncordon`)).status, 200);
    assert.equal((await store.getMachine(id))?.cordoned, undefined);
  });

  test('events are newest first and honour limit', async () => {
    const id = await machineIn('started');
    const all = (await call('GET', `/apps/ops/machines/${id}/events`)).body as unknown as { type: string }[];
    assert.equal(all[0]?.type, 'launch');
    assert.equal(((await call('GET', `/apps/ops/machines/${id}/events?limit=1`)).body as unknown as unknown[]).length, 1);
    await refused(id, 'GET', `/apps/ops/machines/${id}/events?limit=0`, undefined, 400, /'limit' must be at least 1: got "0"/);
  });

  test('metadata: set, show, filter the list, delete; bad keys are named', async () => {
    const id = await machineIn('stopped', { metadata: { role: 'web' } });
    const before = (await store.getMachine(id))!;
    assert.equal((await call('POST', `/apps/ops/machines/${id}/metadata/tier`, { value: 'gold' })).status, 204);
    assert.deepEqual((await call('GET', `/apps/ops/machines/${id}/metadata`)).body, { role: 'web', tier: 'gold' });
    assert.equal((await store.getMachine(id))?.instanceId, before.instanceId, 'metadata is not a new version');
    const listed = (await call('GET', '/apps/ops/machines?metadata.tier=gold&metadata.role=web')).body as unknown as { id: string }[];
    assert.deepEqual(listed.map((m) => m.id), [id]);
    assert.equal(((await call('GET', '/apps/ops/machines?metadata.tier=silver')).body as unknown as unknown[]).length, 0);
    assert.equal((await call('DELETE', `/apps/ops/machines/${id}/metadata/tier`)).status, 204);
    assert.deepEqual((await call('GET', `/apps/ops/machines/${id}/metadata`)).body, { role: 'web' });
    await refused(id, 'DELETE', `/apps/ops/machines/${id}/metadata/tier`, undefined, 404, /has no such key/);
    await refused(id, 'POST', `/apps/ops/machines/${id}/metadata/bad%20key`, { value: 'x' }, 400, /'key' must be letters, digits.*got "bad key"/);
    await refused(id, 'POST', `/apps/ops/machines/${id}/metadata/ok`, { value: 3 }, 400, /'value' must be a string/);
  });

  test('wait: instance_id is required for stopped; timeout at most 60', async () => {
    const id = await machineIn('stopped');
    const m = (await store.getMachine(id))!;
    const missing = await call('GET', `/apps/ops/machines/${id}/wait?state=stopped`);
    assert.equal(missing.status, 400);
    assert.match(missing.body.error!, /'instance_id' must be given when waiting for state stopped/);
    assert.deepEqual((await call('GET', `/apps/ops/machines/${id}/wait?state=stopped&instance_id=${m.instanceId}&timeout=1`)).body, { ok: true, state: 'stopped' });
  });

  test('illegal transitions answer 412, say which states would do, and change nothing', async () => {
    const destroyed = await machineIn('destroyed');
    const stopped = await machineIn('stopped');
    const created = await machineIn('created');
    const suspended = await machineIn('suspended');
    const base = (id: string) => `/apps/ops/machines/${id}`;
    await refused(destroyed, 'POST', `${base(destroyed)}/start`, undefined, 412, /Cannot start machine .* got destroyed/);
    await refused(stopped, 'POST', `${base(stopped)}/stop`, undefined, 412, /Cannot stop machine .* got stopped/);
    await refused(stopped, 'POST', `${base(stopped)}/signal`, { signal: 'SIGTERM' }, 412, /Cannot signal machine .* as its state must be started: got stopped/);
    await refused(stopped, 'POST', `${base(stopped)}/exec`, { command: ['ls'] }, 412, /Cannot exec in machine .* must be started: got stopped/);
    await refused(stopped, 'GET', `${base(stopped)}/ps`, undefined, 412, /Cannot list processes of machine .* got stopped/);
    await refused(destroyed, 'POST', base(destroyed), { config: { image: 'ok-image' } }, 412, /Cannot update machine .* got destroyed/);
    await refused(stopped, 'POST', `${base(stopped)}/suspend`, undefined, 412, /Cannot suspend machine .* must be started: got stopped/);
    await refused(created, 'POST', `${base(created)}/restart`, undefined, 412, /Cannot restart machine .* must be started: got created/);
    await refused(suspended, 'POST', `${base(suspended)}/suspend`, undefined, 412, /got suspended/);
    await refused(destroyed, 'POST', `${base(destroyed)}/cordon`, undefined, 412, /Cannot cordon machine .* got destroyed/);
    await refused(destroyed, 'POST', `${base(destroyed)}/metadata/k`, { value: 'v' }, 412, /got destroyed/);
    const mid = await machineIn('started');
    await call('POST', `${base(mid)}/restart`);
    await refused(mid, 'POST', base(mid), { config: { image: 'ok-image' } }, 412, /Cannot update machine .* got restarting/);
  });

  test('without a way to the host, signal, exec and ps answer 503', async () => {
    const bare = createApiApp({ store, images, rateLimits: false, scheduler: singleHostScheduler(), token: TOKEN });
    const id = await machineIn('started');
    const response = await bare.request(`/v1/apps/ops/machines/${id}/ps`, { headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(response.status, 503);
  });
});
