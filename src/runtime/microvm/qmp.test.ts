import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { isAloftError } from '../../lib/errors.ts';
import { QEMU_BINARY } from './qemu-command.ts';
import { QmpClient } from './qmp.ts';

const hasQemu = spawnSync(QEMU_BINARY, ['--version']).status === 0;
const skip = hasQemu ? false : `${QEMU_BINARY} is not installed (apt-get install qemu-system-x86)`;

let dir: string;
let qemu: ChildProcess | undefined;
let socketPath: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'aloft-qmp-'));
  socketPath = join(dir, 'qmp.sock');
});

after(async () => {
  if (qemu?.exitCode === null && qemu.signalCode === null) {
    qemu.kill('SIGKILL');
    await once(qemu, 'exit');
  }
  await rm(dir, { recursive: true, force: true });
});

/** A QEMU with no guest, CPUs stopped: all QMP needs. */
function startPausedQemu(): ChildProcess {
  return spawn(QEMU_BINARY, ['-M', 'microvm', '-S', '-nodefaults', '-no-user-config', '-display', 'none', '-qmp', `unix:${socketPath},server=on,wait=off`], {
    stdio: 'ignore',
  });
}

test('negotiates, runs commands by id, gets events, quits', { skip }, async () => {
  qemu = startPausedQemu();
  // connect retries until QEMU has created the socket.
  const qmp = await QmpClient.connect(socketPath, { timeoutMs: 20_000 });
  try {
    assert.deepEqual(await qmp.execute('query-status'), { status: 'prelaunch', singlestep: false, running: false });
    const resumed = qmp.waitForEvent('RESUME', 5_000);
    await qmp.execute('cont');
    await resumed;
    assert.equal((await qmp.execute<{ running: boolean }>('query-status')).running, true);
    const stopped = qmp.waitForEvent('STOP', 5_000);
    await qmp.execute('stop');
    await stopped;
    assert.equal((await qmp.execute<{ status: string }>('query-status')).status, 'paused');
    // Two commands in flight at once are told apart by their ids.
    const [name, version] = await Promise.all([qmp.execute<{ name?: string }>('query-name'), qmp.execute<{ qemu: { major: number } }>('query-version')]);
    assert.deepEqual(name, {});
    assert.ok(version.qemu.major >= 7);

    await assert.rejects(qmp.execute('no-such-command'), (err: unknown) => isAloftError(err, 'QMP_FAILED') && /CommandNotFound/.test(err.message));
    await assert.rejects(
      qmp.execute('migrate', { uri: 'bogus:x' }),
      (err: unknown) => isAloftError(err, 'QMP_FAILED') && /'migrate' as QEMU refused it/.test(err.message),
    );

    const exited = once(qemu, 'exit');
    const closed = once(qmp, 'close');
    await qmp.execute('quit');
    await closed;
    assert.equal(qmp.closed, true);
    await assert.rejects(qmp.execute('query-status'), (err: unknown) => isAloftError(err, 'QMP_FAILED') && /closed/.test(err.message));
    const [code] = (await exited) as [number | null];
    assert.equal(code, 0);
  } finally {
    qmp.close();
  }
});

test('a socket nobody serves fails with QMP_FAILED after the timeout', async () => {
  const started = Date.now();
  await assert.rejects(QmpClient.connect(join(dir, 'nobody.sock'), { timeoutMs: 200 }), (err: unknown) => isAloftError(err, 'QMP_FAILED') && /nobody\.sock/.test(err.message));
  assert.ok(Date.now() - started >= 200);
});
