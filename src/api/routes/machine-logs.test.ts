import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { LocalHostControl, type HostControl, type MachineTarget } from '../../agent/host-control.ts';
import { MachineLogs, type LogReadOptions, type MachineLogLine } from '../../agent/logs/index.ts';
import { openSqliteStore, type Store } from '../../store/index.ts';
import { createApiApp, listenApi } from '../server.ts';
import { fakeImages as images } from '../testing/fake-images.ts';
import { appendLogLines } from '../../agent/logs/testing.ts';
import { singleHostScheduler } from '../../scheduler/testing.ts';

const TOKEN = 'test-token';

/** The real LocalHostControl over a real MachineLogs, counting the follows still open. */
class CountingHostControl implements HostControl {
  open = 0;
  #closed: (() => void)[] = [];
  readonly #inner: LocalHostControl;
  constructor(logs: MachineLogs) {
    const noDriver = () => Promise.reject(new Error('not in this test'));
    this.#inner = new LocalHostControl('h1', { signal: noDriver, exec: noDriver, ps: noDriver }, logs);
  }
  signal(): Promise<void> {
    throw new Error('not in this test');
  }
  exec(): never {
    throw new Error('not in this test');
  }
  ps(): never {
    throw new Error('not in this test');
  }
  async *logs(target: MachineTarget, options: LogReadOptions): AsyncGenerator<MachineLogLine> {
    this.open++;
    try {
      yield* this.#inner.logs(target, options);
    } finally {
      this.open--;
      if (this.open === 0) for (const done of this.#closed.splice(0)) done();
    }
  }
  /** Resolves once every follow has ended. */
  allClosed(): Promise<void> {
    return this.open === 0 ? Promise.resolve() : new Promise((resolve) => this.#closed.push(resolve));
  }
}

/** Reads NDJSON lines from a response body, one at a time. */
function lineReader(body: ReadableStream<Uint8Array>) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffered = '';
  return {
    reader,
    async next(): Promise<MachineLogLine> {
      for (;;) {
        const nl = buffered.indexOf('\n');
        if (nl !== -1) {
          const line = buffered.slice(0, nl);
          buffered = buffered.slice(nl + 1);
          return JSON.parse(line) as MachineLogLine;
        }
        const { value, done } = await reader.read();
        if (done) throw new Error(`stream ended; left: ${buffered}`);
        buffered += decoder.decode(value, { stream: true });
      }
    },
  };
}

describe('GET /v1/apps/:app/machines/:id/logs', () => {
  let store: Store;
  let dir: string;
  let file: string;
  let logs: MachineLogs;
  let host: CountingHostControl;
  let app: ReturnType<typeof createApiApp>;
  let id: string;

  const get = (path: string, token: string | null = TOKEN) => app.request(`/v1${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  const json = async (path: string, token?: string | null) => {
    const response = await get(path, token);
    return { status: response.status, body: (await response.json()) as unknown };
  };
  /** Appends lines to the Machine's log file and resolves once the follower has read them. */
  const write = (...lines: string[]): Promise<void> => appendLogLines(logs, id, file, lines);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'aloft-logs-api-'));
    file = join(dir, 'machine.log');
    logs = new MachineLogs({ pollMs: 50 });
    host = new CountingHostControl(logs);
    store = await openSqliteStore({ path: ':memory:' });
    app = createApiApp({
      store,
      images,
      hostControl: host,
      rateLimits: false,
      scheduler: singleHostScheduler(),
      token: TOKEN,
    });
    assert.equal((await app.request('/v1/apps', { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` }, body: JSON.stringify({ app_name: 'web' }) })).status, 201);
    const created = await app.request('/v1/apps/web/machines', { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` }, body: JSON.stringify({ config: { image: 'ok-image' }, skip_launch: true }) });
    id = ((await created.json()) as { id: string }).id;
    await logs.follow(id, { path: file, app: 'web' });
    await write('one', 'two', 'three');
  });

  after(async () => {
    await logs.close();
    store.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('answers the kept lines as JSON, oldest first, and tail=N the last N', async () => {
    const all = await json(`/apps/web/machines/${id}/logs`);
    assert.equal(all.status, 200);
    const lines = all.body as MachineLogLine[];
    assert.deepEqual(lines.map((l) => l.message), ['one', 'two', 'three']);
    assert.ok(lines.every((l) => l.machine_id === id && /^\d{4}-\d\d-\d\dT[\d:]{8}\.\d{3}Z$/.test(l.timestamp)));
    assert.deepEqual(((await json(`/apps/web/machines/${id}/logs?tail=2`)).body as MachineLogLine[]).map((l) => l.message), ['two', 'three']);
  });

  test('a bad tail or follow is a 400 naming the field and value', async () => {
    for (const [query, message] of [
      ['tail=0', `Cannot read machine logs as 'tail' must be at least 1: got "0"`],
      ['tail=10001', `Cannot read machine logs as 'tail' must be at most 10000: got "10001"`],
      ['tail=lots', `Cannot read machine logs as 'tail' must be a number: got "lots"`],
      ['follow=yes', `Cannot read machine logs as 'follow' must be one of "0", "1", "true", "false": got "yes"`],
    ] as const) {
      const answer = await json(`/apps/web/machines/${id}/logs?${query}`);
      assert.equal(answer.status, 400, query);
      assert.deepEqual(answer.body, { error: message, code: 'INVALID_ARGUMENT' });
    }
  });

  test('a missing machine is a 404 and no token a 401', async () => {
    assert.equal((await json('/apps/web/machines/0123456789abcd/logs')).status, 404);
    assert.equal((await json('/apps/nope/machines/0123456789abcd/logs')).status, 404);
    assert.equal((await json(`/apps/web/machines/${id}/logs`, null)).status, 401);
  });

  test('follow=true streams the tail and then new lines as NDJSON until the client cancels', async () => {
    const response = await get(`/apps/web/machines/${id}/logs?tail=1&follow=true`);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-type'), 'application/x-ndjson');
    const stream = lineReader(response.body!);
    assert.equal((await stream.next()).message, 'three');
    await write('four');
    assert.deepEqual(await stream.next(), { ...logs.tail(id, 1)[0], message: 'four' });
    assert.equal(host.open, 1);
    await stream.reader.cancel();
    await host.allClosed();
  });

  test('over HTTP, a follow ends when the client goes away', async () => {
    const server = await listenApi(app, { host: '127.0.0.1', port: 0 });
    try {
      const client = new AbortController();
      const response = await fetch(`http://127.0.0.1:${server.port}/v1/apps/web/machines/${id}/logs?follow=1&tail=1`, {
        headers: { authorization: `Bearer ${TOKEN}` },
        signal: client.signal,
      });
      const stream = lineReader(response.body!);
      assert.equal((await stream.next()).message, 'four');
      await write('five');
      assert.equal((await stream.next()).message, 'five');
      client.abort();
      await host.allClosed();
      assert.equal(host.open, 0);
    } finally {
      await server.close();
    }
  });

  test('follow on a destroyed machine ends after the kept lines', async () => {
    await store.updateMachine(id, { patch: { state: 'destroyed' } });
    try {
      const response = await get(`/apps/web/machines/${id}/logs?follow=true&tail=1`);
      assert.equal(response.headers.get('content-type'), 'application/x-ndjson');
      assert.deepEqual(
        (await response.text()).trimEnd().split('\n').map((l) => (JSON.parse(l) as MachineLogLine).message),
        ['five'],
      );
      assert.equal(host.open, 0);
    } finally {
      await store.updateMachine(id, { patch: { state: 'created' } });
    }
  });

  test('the route is in the OpenAPI document', async () => {
    const document = (await (await app.request('/v1/openapi.json')).json()) as { paths: Record<string, Record<string, { operationId: string }>> };
    assert.equal(document.paths['/apps/{app_name}/machines/{machine_id}/logs']?.['get']?.operationId, 'Machines_logs');
  });
});
