/**
 * `aloft machine logs` as a user runs it, against a real API over HTTP whose host
 * control reads a real MachineLogs following a temp file: the kept lines, `-n`,
 * `--json`, and `-f` printing a line appended after it started.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { LocalHostControl, MachineLogs } from '../../src/agent/index.ts';
import { createApiApp, listenApi } from '../../src/api/index.ts';
import { fakeImages } from '../../src/api/testing/fake-images.ts';
import { openSqliteStore, type Store } from '../../src/store/index.ts';
import { fails, runAloft, type Run } from './cli-runner.ts';
import { appendLogLines } from '../../src/agent/logs/testing.ts';
import { singleHostScheduler } from '../../src/scheduler/testing.ts';

const OPERATOR = 'cli-logs-operator-token';
const BIN = join(import.meta.dirname, '..', '..', 'bin', 'aloft.js');

describe('aloft machine logs', () => {
  let store: Store;
  let api: Awaited<ReturnType<typeof listenApi>>;
  let logs: MachineLogs;
  let dir: string;
  let file: string;
  let id: string;
  const env = (): Record<string, string> => ({ ALOFT_API_URL: `http://127.0.0.1:${api.port}`, ALOFT_API_TOKEN: OPERATOR });
  const aloft = (args: string[]): Promise<Run> => runAloft(args, env());

  /** Appends lines to the Machine's log and resolves once they are read. */
  const write = (...lines: string[]): Promise<void> => appendLogLines(logs, id, file, lines);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'aloft-cli-logs-'));
    file = join(dir, 'machine.log');
    logs = new MachineLogs({ pollMs: 50 });
    store = await openSqliteStore({ path: ':memory:' });
    const scheduler = singleHostScheduler();
    const none = () => Promise.reject(new Error('not in this test'));
    const hostControl = new LocalHostControl('h1', { signal: none, exec: none, ps: none }, logs);
    api = await listenApi(createApiApp({ store, images: fakeImages, scheduler, token: OPERATOR, rateLimits: false, hostControl }), { host: '127.0.0.1', port: 0 });
    const headers = { authorization: `Bearer ${OPERATOR}`, 'content-type': 'application/json' };
    await fetch(`http://127.0.0.1:${api.port}/v1/apps`, { method: 'POST', headers, body: JSON.stringify({ app_name: 'web' }) });
    const created = await fetch(`http://127.0.0.1:${api.port}/v1/apps/web/machines`, { method: 'POST', headers, body: JSON.stringify({ config: { image: 'ok-image' }, skip_launch: true }) });
    id = ((await created.json()) as { id: string }).id;
    await logs.follow(id, { path: file, app: 'web' });
    await write('booting', 'listening on :8080');
  });
  after(async () => {
    await api.close();
    await logs.close();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('prints `timestamp message` lines; -n keeps the last N; --json prints NDJSON', async () => {
    const all = await aloft(['machine', 'logs', id, '--app', 'web']);
    assert.equal(all.code, 0, all.stderr);
    const printed = all.stdout.trimEnd().split('\n');
    assert.equal(printed.length, 2);
    assert.match(printed[0]!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z booting$/);
    assert.match(printed[1]!, /Z listening on :8080$/);
    assert.deepEqual((await aloft(['machine', 'logs', id, '--app', 'web', '-n', '1'])).stdout.trimEnd().split('\n').map((l) => l.split(' ').slice(1).join(' ')), ['listening on :8080']);
    const json = (await aloft(['machine', 'logs', id, '--app', 'web', '--json'])).stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as { machine_id: string; message: string });
    assert.deepEqual(json.map((l) => [l.machine_id, l.message]), [[id, 'booting'], [id, 'listening on :8080']]);
  });

  test('a bad -n or an unknown machine is one line on stderr and exit 1', async () => {
    fails(await aloft(['machine', 'logs', id, '--app', 'web', '-n', '0']), /Cannot read machine logs as '-n' must be a whole number from 1 to 10000: got "0"/);
    fails(await aloft(['machine', 'logs', '0123456789abcd', '--app', 'web']), /Cannot find machine/);
  });

  test('-f prints the kept lines, then new ones as they come', async () => {
    const child = spawn(process.execPath, [BIN, 'machine', 'logs', id, '--app', 'web', '-n', '1', '-f'], { env: { ...process.env, ...env(), NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      let out = '';
      const printedLine = (text: string): Promise<void> =>
        new Promise((resolve, reject) => {
          const check = (): void => {
            if (out.includes(` ${text}\n`)) {
              child.stdout.off('data', onData);
              resolve();
            }
          };
          const onData = (chunk: Buffer): void => {
            out += chunk.toString();
            check();
          };
          child.stdout.on('data', onData);
          child.once('exit', (code) => reject(new Error(`aloft exited ${String(code)} before printing "${text}": ${out}`)));
          check();
        });
      await printedLine('listening on :8080');
      await write('GET / 200');
      await printedLine('GET / 200');
      assert.doesNotMatch(out, /booting/, '-n 1 printed only the last kept line');
    } finally {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = once(child, 'exit');
        child.kill('SIGTERM');
        await exited;
      }
    }
  });
});
