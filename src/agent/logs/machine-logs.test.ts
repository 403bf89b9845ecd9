import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { appendFile, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { pino } from 'pino';
import { MachineLogs, type MachineLogsOptions } from './machine-logs.ts';
import type { MachineLogLine } from './log-line.ts';

const ISO_MS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

/** Runs `script` in sh with the log file as $1; resolves when it exits 0. */
async function sh(script: string, file: string): Promise<void> {
  const child = spawn('sh', ['-c', script, 'sh', file], { stdio: 'ignore' });
  const [code] = (await once(child, 'exit')) as [number | null];
  assert.equal(code, 0, `sh -c '${script}' failed`);
}

/** Handles that keep the process alive (watchers, timers), counted by kind. */
async function activeHandles(): Promise<Record<string, number>> {
  // A closed watcher's handle is freed in the loop's close phase, which follows the check phase.
  for (let i = 0; i < 2; i++) await new Promise((resolve) => setImmediate(resolve));
  const counts: Record<string, number> = {};
  for (const kind of process.getActiveResourcesInfo()) counts[kind] = (counts[kind] ?? 0) + 1;
  return counts;
}

async function collect<T, U>(items: AsyncIterable<T>, map: (item: T) => U): Promise<U[]> {
  const out: U[] = [];
  for await (const item of items) out.push(map(item));
  return out;
}

describe('MachineLogs', () => {
  let dir: string;
  let file: string;
  let logs: MachineLogs;

  const open = (options: MachineLogsOptions = {}): MachineLogs => (logs = new MachineLogs({ pollMs: 50, ...options }));

  /** Resolves with the first `n` lines published for machine m1 after the call. */
  const nextLines = (n: number): Promise<MachineLogLine[]> =>
    new Promise((resolve) => {
      const got: MachineLogLine[] = [];
      const unsubscribe = logs.subscribe('m1', (line) => {
        got.push(line);
        if (got.length === n) {
          unsubscribe();
          resolve(got);
        }
      });
    });

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'aloft-logs-'));
    file = join(dir, 'machine.log');
  });

  afterEach(async () => {
    await logs.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('lines a child process appends arrive in order, stamped, from the end the file had', async () => {
    await writeFile(file, 'from an earlier run\n');
    open();
    await logs.follow('m1', { path: file, app: 'web' });
    const arriving = nextLines(300);
    await sh('for i in $(seq 1 300); do echo "line $i"; done >> "$1"', file);
    const lines = await arriving;
    assert.deepEqual(
      lines.map((l) => l.message),
      Array.from({ length: 300 }, (_, i) => `line ${i + 1}`),
    );
    for (const line of lines) {
      assert.match(line.timestamp, ISO_MS);
      assert.equal(line.machine_id, 'm1');
      assert.equal(line.truncated, undefined);
    }
    assert.ok(lines.every((l, i) => i === 0 || l.timestamp >= lines[i - 1]!.timestamp), 'timestamps never go back');
    assert.deepEqual(logs.tail('m1', 2).map((l) => l.message), ['line 299', 'line 300']);
  });

  test('a file that does not exist yet is read from its start once it appears', async () => {
    open();
    await logs.follow('m1', { path: file });
    const arriving = nextLines(2);
    await sh('echo first >> "$1"; echo second >> "$1"', file);
    assert.deepEqual((await arriving).map((l) => l.message), ['first', 'second']);
  });

  test('a partial line waits for its newline, and a trailing \\r is stripped', async () => {
    open({ flushMs: 60_000 });
    await logs.follow('m1', { path: file });
    const arriving = nextLines(2);
    await sh(`printf 'console: par' >> "$1"`, file);
    await sh(`printf 'tial\\r\\nnext\\n' >> "$1"`, file);
    assert.deepEqual((await arriving).map((l) => l.message), ['console: partial', 'next']);
  });

  test('a partial line with no newline is emitted after the flush timeout', async () => {
    open({ flushMs: 30 });
    await logs.follow('m1', { path: file });
    const arriving = nextLines(1);
    await sh(`printf 'login: ' >> "$1"`, file);
    assert.deepEqual((await arriving).map((l) => l.message), ['login: ']);
  });

  test('a line past the cap keeps its first bytes, whole characters only, and is marked truncated', async () => {
    open({ maxLineBytes: 101 });
    await logs.follow('m1', { path: file });
    const arriving = nextLines(3);
    await sh(`head -c 250 /dev/zero | tr '\\0' x >> "$1"; echo >> "$1"; i=0; while [ $i -lt 60 ]; do printf 'é' >> "$1"; i=$((i+1)); done; echo >> "$1"; echo short >> "$1"`, file);
    const [long, accents, short] = await arriving;
    assert.deepEqual(long, { timestamp: long!.timestamp, machine_id: 'm1', message: 'x'.repeat(101), truncated: true });
    assert.equal(accents!.message, 'é'.repeat(50), '101 bytes hold 50 two-byte characters; the half one is dropped');
    assert.equal(accents!.truncated, true);
    assert.deepEqual({ ...short, timestamp: '' }, { timestamp: '', machine_id: 'm1', message: 'short' });
  });

  test('a file truncated by someone else is read again from its start', async () => {
    open();
    await logs.follow('m1', { path: file });
    const before = nextLines(50);
    await sh('for i in $(seq 1 50); do echo "before $i"; done >> "$1"', file);
    await before;
    const after = nextLines(1);
    await sh(': > "$1"; echo after >> "$1"', file);
    assert.deepEqual((await after).map((l) => l.message), ['after']);
  });

  test('past the size cap the file is rotated to .1 by copy-and-truncate, and following goes on', async () => {
    let rotatedTo: (path: string) => void = () => undefined;
    const rotation = new Promise<string>((resolve) => (rotatedTo = resolve));
    const sink = {
      write: (s: string) => {
        const record = JSON.parse(s) as { msg: string; rotated?: string };
        if (record.msg === 'machine log rotated') rotatedTo(record.rotated!);
      },
    };
    open({ rotateBytes: 1000, log: pino({ level: 'info', base: null }, sink) });
    await logs.follow('m1', { path: file });
    const text = Array.from({ length: 200 }, (_, i) => `row ${i}\n`).join('');
    const arriving = nextLines(200);
    await appendFile(file, text);
    assert.deepEqual((await arriving).map((l) => `${l.message}\n`).join(''), text);
    // A write racing the copy and the truncate could be lost (see FileFollower): this one waits for the rotation.
    assert.equal(await rotation, `${file}.1`);
    assert.equal(await readFile(`${file}.1`, 'utf8'), text);
    assert.equal((await stat(file)).size, 0, 'the followed file was truncated');
    const next = nextLines(1);
    await sh('echo fresh >> "$1"', file);
    assert.deepEqual((await next).map((l) => l.message), ['fresh']);
  });

  test('lines() gives the tail, then follows until its signal aborts', async () => {
    open();
    await logs.follow('m1', { path: file });
    const first = nextLines(3);
    await sh('echo a >> "$1"; echo b >> "$1"; echo c >> "$1"', file);
    await first;
    assert.deepEqual(await collect(logs.lines('m1', { tail: 2 }), (l) => l.message), ['b', 'c']);

    const controller = new AbortController();
    const seen: string[] = [];
    const reading = (async () => {
      for await (const line of logs.lines('m1', { tail: 1, follow: true, signal: controller.signal })) {
        seen.push(line.message);
        if (line.message === 'e') controller.abort();
      }
    })();
    await sh('echo d >> "$1"; echo e >> "$1"', file);
    await reading;
    assert.deepEqual(seen, ['c', 'd', 'e']);
  });

  test('a following reader ends when the machine is forgotten', async () => {
    open();
    await logs.follow('m1', { path: file });
    const reading = collect(logs.lines('m1', { follow: true }), (l) => l.message);
    const arriving = nextLines(1);
    await sh('echo last >> "$1"', file);
    await arriving;
    await logs.forget('m1');
    assert.deepEqual(await reading, ['last']);
    assert.deepEqual(logs.tail('m1'), []);
  });

  test('unfollow reads what the last moments wrote and leaves no watcher or timer behind', async () => {
    const baseline = await activeHandles();
    open({ flushMs: 60_000 });
    await logs.follow('m1', { path: file });
    assert.ok(logs.isFollowing('m1'));
    await sh(`echo one >> "$1"; printf 'no newline' >> "$1"`, file);
    await logs.unfollow('m1');
    assert.equal(logs.isFollowing('m1'), false);
    assert.deepEqual(logs.tail('m1').map((l) => l.message), ['one', 'no newline']);
    assert.deepEqual(await activeHandles(), baseline);
  });

  test('each line goes to the agent log as {part, machine, app} at info', async () => {
    const records: Record<string, unknown>[] = [];
    const sink = { write: (s: string) => void records.push(JSON.parse(s) as Record<string, unknown>) };
    open({ log: pino({ level: 'info', base: null }, sink) });
    await logs.follow('m1', { path: file, app: 'web' });
    const arriving = nextLines(1);
    await sh('echo hello >> "$1"', file);
    await arriving;
    assert.deepEqual(
      records.map(({ part, machine, app, level, msg }) => ({ part, machine, app, level, msg })),
      [{ part: 'machine-log', machine: 'm1', app: 'web', level: 30, msg: 'hello' }],
    );
  });
});
