import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, rmdirSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { CommandRunner } from '../lib/command.ts';
import { isAloftError } from '../lib/errors.ts';
import { busyboxSpecFixture, runDriverContract } from './contract.ts';
import type { OciRuntime } from './oci-bundle.ts';
import { OciDriver } from './oci-driver.ts';

/** Why the real-runtime contract cannot run here, or false when it can. */
function skipReason(runtime: OciRuntime): string | false {
  if (process.getuid?.() !== 0) return 'needs root';
  try {
    execFileSync(runtime, ['--version'], { stdio: 'ignore' });
  } catch {
    return `${runtime} is not installed`;
  }
  return false;
}

// One state root and cgroup parent per test run, so tests never see (or touch) a dev
// platform's machines, nor each other's.
const dataDir = mkdtempSync(join(tmpdir(), 'aloft-oci-'));
const cgroupParent = `/aloft-test-${randomBytes(4).toString('hex')}`;
after(() => {
  rmSync(dataDir, { recursive: true, force: true });
  // runc and runsc remove each run's cgroup but not the parent they created for it.
  for (const controller of readdirSync('/sys/fs/cgroup')) {
    try {
      rmdirSync(join('/sys/fs/cgroup', controller, cgroupParent));
    } catch {
      // absent (never created for this controller) or not ours to judge: leave it
    }
  }
});

describe('OciDriver (fake runtime)', () => {
  const fake = (answer: Awaited<ReturnType<CommandRunner>> | Error): { run: CommandRunner; calls: string[] } => {
    const calls: string[] = [];
    const run: CommandRunner = async (file, args) => {
      calls.push([file, ...args].join(' '));
      if (answer instanceof Error) throw answer;
      return answer;
    };
    return { run, calls };
  };

  it('check() says how to install a missing runtime', async () => {
    const { run } = fake(new Error('spawn runsc ENOENT'));
    const driver = new OciDriver({ runtime: 'runsc', stateRoot: '/nowhere', run });
    await assert.rejects(
      driver.check(),
      (err) => isAloftError(err, 'RUNTIME_MISSING') && /apt-get install -y runsc/.test(err.message),
    );
  });

  it('signal() refuses unknown signal names, and sends known ones by number', async () => {
    const { run, calls } = fake({ code: 0, stdout: '', stderr: '' });
    const driver = new OciDriver({ runtime: 'runc', stateRoot: '/state', run });
    await assert.rejects(driver.signal('m1', 'SIGNOPE'), (err) => isAloftError(err, 'INVALID_ARGUMENT'));
    await driver.signal('m1', 'SIGTERM');
    assert.deepEqual(calls, ['runc --root /state kill m1 15']);
  });

  it('wraps runtime failures as RUNTIME_FAILED with the command and stderr', async () => {
    const { run } = fake({ code: 1, stdout: '', stderr: 'level=error msg="permission denied"' });
    const driver = new OciDriver({ runtime: 'runc', stateRoot: '/state', run });
    await assert.rejects(
      driver.status('m1'),
      (err) => isAloftError(err, 'RUNTIME_FAILED') && /runc --root \/state state m1.*permission denied/.test(err.message),
    );
  });

  it('list() merges the runtime\'s containers with recorded runs', async () => {
    const recordRoot = join(dataDir, 'records-unit');
    mkdirSync(join(recordRoot, 'exited1'), { recursive: true });
    const { run } = fake({ code: 0, stdout: '[{"id":"running1","status":"running"}]', stderr: '' });
    const driver = new OciDriver({ runtime: 'runsc', stateRoot: '/state', recordRoot, run });
    assert.deepEqual(await driver.list(), ['exited1', 'running1']);
    const empty = new OciDriver({ runtime: 'runc', stateRoot: '/state', recordRoot: join(dataDir, 'none'), run: fake({ code: 0, stdout: 'null\n', stderr: '' }).run });
    assert.deepEqual(await empty.list(), []);
  });

  it('refuses machine ids that are not safe as runtime ids and paths', async () => {
    const driver = new OciDriver({ runtime: 'runc', stateRoot: '/state', run: fake({ code: 0, stdout: '', stderr: '' }).run });
    await assert.rejects(driver.status('../etc'), /'machineId' must be/);
  });
});

async function bundleMemoryLimit(spec: { workDir: string }): Promise<number | null> {
  const config = JSON.parse(await readFile(join(spec.workDir, 'bundle', 'config.json'), 'utf8')) as {
    linux?: { resources?: { memory?: { limit?: number } } };
  };
  return config.linux?.resources?.memory?.limit ?? null;
}

for (const runtime of ['runsc', 'runc'] as const) {
  runDriverContract(
    `oci (${runtime})`,
    () => new OciDriver({ runtime, stateRoot: join(dataDir, runtime), cgroupParent }),
    () => busyboxSpecFixture(bundleMemoryLimit),
    { skip: skipReason(runtime) },
  );
}
