import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { LocalHostControl } from '../agent/host-control.ts';
import type { LogReadOptions, MachineLogLine } from '../agent/logs/index.ts';
import { AloftError } from '../lib/errors.ts';
import { sampleHostRegistration } from '../store/host-samples.ts';
import { openSqliteStore, type Store } from '../store/index.ts';
import { RemoteHostControl } from './host-control-client.ts';
import { listenHostControl } from './host-control-server.ts';

const TOKEN = 'operator-token';
const T0 = 1_700_000_000_000;

/** A host's local control over a recording driver and fixed log lines. */
function localControl(hostId: string): { control: LocalHostControl; signals: string[] } {
  const signals: string[] = [];
  const lines: MachineLogLine[] = [1, 2, 3].map((n) => ({ timestamp: new Date(T0 + n).toISOString(), machine_id: 'm1', message: `line ${n}` }));
  const control = new LocalHostControl(
    hostId,
    {
      signal: (id, signal) => {
        signals.push(`${id}:${signal}`);
        return Promise.resolve();
      },
      exec: (id, request) =>
        request.args[0] === 'slow'
          ? Promise.reject(new AloftError('EXEC_TIMEOUT', `Cannot exec in machine ${id} as it must finish within ${request.timeoutMs} ms: got no exit`))
          : Promise.resolve({ stdout: `${hostId}:${id}:${request.args.join(' ')}`, stderr: '', exitCode: 0 }),
      ps: () => Promise.resolve([{ pid: 1, command: 'init' }]),
    },
    {
      async *lines(_id: string, options: LogReadOptions) {
        yield* lines.slice(-(options.tail ?? lines.length));
      },
    },
  );
  return { control, signals };
}

describe('HostControl over the agent RPC', () => {
  let store: Store;
  let client: RemoteHostControl;
  const servers: { close(): Promise<void> }[] = [];
  const recorded: Record<string, string[]> = {};

  before(async () => {
    store = await openSqliteStore({ path: ':memory:' });
    for (const id of ['h1', 'h2']) {
      const { control, signals } = localControl(id);
      recorded[id] = signals;
      const server = await listenHostControl(control, { token: TOKEN, host: '127.0.0.1', port: 0 });
      servers.push(server);
      await store.registerHost(sampleHostRegistration({ id, controlUrl: `http://127.0.0.1:${server.port}` }), T0);
    }
    await store.registerHost(sampleHostRegistration({ id: 'gone', controlUrl: 'http://127.0.0.1:1' }), T0);
    await store.registerHost(sampleHostRegistration({ id: 'dead', controlUrl: 'http://127.0.0.1:1' }), T0);
    await store.markHostDown('dead', { reason: 'no heartbeat for 7 s', expectHeartbeatAt: T0 });
    client = new RemoteHostControl({ hosts: store, token: TOKEN });
  });
  after(async () => {
    for (const s of servers) await s.close();
    await store.close();
  });

  test('exec, ps, signal and logs reach the host the Machine is on', async () => {
    assert.equal((await client.exec({ hostId: 'h2', machineId: 'm1' }, { args: ['echo', 'hi'], timeoutMs: 1000 })).stdout, 'h2:m1:echo hi');
    assert.equal((await client.exec({ hostId: 'h1', machineId: 'm1' }, { args: ['id'], timeoutMs: 1000 })).stdout, 'h1:m1:id');
    assert.deepEqual(await client.ps({ hostId: 'h1', machineId: 'm1' }), [{ pid: 1, command: 'init' }]);
    await client.signal({ hostId: 'h2', machineId: 'm9' }, 'SIGUSR1');
    assert.deepEqual(recorded['h2'], ['m9:SIGUSR1']);
    assert.deepEqual(recorded['h1'], []);
    const lines: string[] = [];
    for await (const line of client.logs({ hostId: 'h1', machineId: 'm1' }, { tail: 2 })) lines.push(line.message);
    assert.deepEqual(lines, ['line 2', 'line 3']);
  });

  test("the host's own errors come back with their code", async () => {
    await assert.rejects(client.exec({ hostId: 'h1', machineId: 'm1' }, { args: ['slow'], timeoutMs: 5 }), { code: 'EXEC_TIMEOUT', message: /must finish within 5 ms/ });
    await assert.rejects(client.signal({ hostId: 'h1', machineId: 'm1' }, 'KILL'), { code: 'INVALID_ARGUMENT', message: /'signal' must be valid/ });
  });

  test('unknown, down and silent hosts are HOST_NOT_FOUND, HOST_DOWN and HOST_UNAVAILABLE', async () => {
    await assert.rejects(client.ps({ hostId: 'nope', machineId: 'm1' }), { code: 'HOST_NOT_FOUND', message: /its host must be registered: got no host nope/ });
    await assert.rejects(client.ps({ hostId: 'dead', machineId: 'm1' }), { code: 'HOST_DOWN', message: /must be up: got dead down \(no heartbeat for 7 s\)/ });
    await assert.rejects(client.ps({ hostId: 'gone', machineId: 'm1' }), { code: 'HOST_UNAVAILABLE', message: /must answer at http:\/\/127.0.0.1:1/ });
  });

  test('a wrong token is refused, and a host refuses a Machine of another host', async () => {
    const stranger = new RemoteHostControl({ hosts: store, token: 'wrong' });
    await assert.rejects(stranger.ps({ hostId: 'h1', machineId: 'm1' }), { code: 'UNAUTHORIZED' });
    const h1 = (await store.getHost('h1'))!;
    // Registry says h2 lives at h1's address: h1's agent must not act for h2.
    const misrouted = new RemoteHostControl({ hosts: { getHost: async (id) => (id === 'h2' ? { ...(await store.getHost('h2'))!, controlUrl: h1.controlUrl } : store.getHost(id)) }, token: TOKEN });
    await assert.rejects(misrouted.ps({ hostId: 'h2', machineId: 'm1' }), { code: 'HOST_UNAVAILABLE', message: /its host must be this one \(h1\): got h2/ });
  });
});
