import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, rmdirSync, rmSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
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

/**
 * What of machine `id` is still on the host: processes naming it (monitor, runtime,
 * sandbox, gofer), its cgroups, the runtime's state and aloft's record.
 */
async function ociLeftovers(runtime: OciRuntime, id: string): Promise<string[]> {
  return [...(await ociProcesses(id)), ...(await ociCgroupsAndState(runtime, id))];
}

/** Host processes naming machine `id` in their arguments: monitor, runtime, sandbox, gofer. */
async function ociProcesses(id: string): Promise<string[]> {
  const found: string[] = [];
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.split('\0').some((arg) => arg === id || arg.includes(`/${id}/`) || arg.endsWith(`/${id}`))) found.push(`process ${pid}: ${cmdline.replaceAll('\0', ' ').slice(0, 120)}`);
  }
  return found;
}

async function ociCgroupsAndState(runtime: OciRuntime, id: string): Promise<string[]> {
  const found: string[] = [];
  for (const controller of await readdir('/sys/fs/cgroup')) {
    const children = await readdir(join('/sys/fs/cgroup', controller, cgroupParent), { withFileTypes: true }).catch(() => []);
    for (const child of children) if (child.isDirectory() && child.name.startsWith(`${id}-`)) found.push(`cgroup ${controller}${cgroupParent}/${child.name}`);
  }
  const state = await readdir(join(dataDir, runtime)).catch(() => [] as string[]);
  for (const name of state) if (name.includes(id)) found.push(`runtime state ${name}`);
  const records = await readdir(join(dataDir, `${runtime}.aloft`)).catch(() => [] as string[]);
  if (records.includes(id)) found.push(`record ${id}`);
  return found;
}

/** Timings the suspend cases measured, printed once per runtime. */
const figures: Record<string, Record<string, number>> = {};
after(() => {
  if (Object.keys(figures).length > 0) console.log(`suspend timings: ${JSON.stringify(figures)}`);
});

for (const runtime of ['runsc', 'runc'] as const) {
  runDriverContract(
    `oci (${runtime})`,
    // The quiet period is 61 s on a real host; 1.5 s keeps the tests short, and their
    // checkpointed Machines never had a connection.
    () => new OciDriver({ runtime, stateRoot: join(dataDir, runtime), cgroupParent, suspendQuietMs: 1500 }),
    () => busyboxSpecFixture(bundleMemoryLimit),
    {
      skip: skipReason(runtime),
      // runc's checkpoint needs CRIU, which is not installed here (Debian has `criu` 3.17; untried).
      checkpoints: runtime === 'runsc',
      // runsc's own threads count against the sandbox's pids cgroup (HOST.md): the bundle adds an allowance.
      forkBombPids: 64,
      // runc's foreground `run` copies stdout and stderr through two pipes of its own
      // (measured: all stderr lines before stdout's); the monitor design needs foreground.
      ...(runtime === 'runc' ? { interleavedLogs: 'runc run copies stdout and stderr through separate pipes' } : {}),
      leftovers: (spec) => ociLeftovers(runtime, spec.machineId),
      processes: (spec) => ociProcesses(spec.machineId),
      suspendImage: (spec) => join(dataDir, `${runtime}.aloft`, spec.machineId, 'checkpoint', 'checkpoint.img'),
      report: (measured) => (figures[runtime] = { ...figures[runtime], ...measured }),
    },
  );
}
