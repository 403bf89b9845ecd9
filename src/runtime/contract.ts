import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isAloftError } from '../lib/errors.ts';
import { execFile } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LinuxHostNetwork, machineIpv6 } from '../net/index.ts';
import { buildBusyboxRoot } from './busybox-rootfs.ts';
import type { Driver, RunSpec } from './driver.ts';
import { eventuallyGet, eventuallyInLog, type ContractContext } from './contract-util.ts';
import { limitCases } from './contract-limits.ts';
import { networkSuspendCases, suspendCases } from './contract-suspend.ts';

/** What the contract needs from a driver's world besides the driver itself. */
export interface SpecFixture {
  /** A RunSpec for a new Machine with its own busybox root (see buildBusyboxRoot). */
  spec(input: SpecInput): Promise<RunSpec>;
  /** The memory limit, in bytes, that the driver gave this Machine (read from its artefacts). */
  appliedMemoryLimit(spec: RunSpec): Promise<number | null>;
  /** Removes every file the fixture made. */
  cleanup(): Promise<void>;
}

/** The parts of a RunSpec a contract test chooses. */
export interface SpecInput {
  machineId: string;
  args: string[];
  env?: Record<string, string>;
  cwd?: string;
  uid?: number;
  gid?: number;
  additionalGids?: number[];
  netnsPath?: string | null;
  files?: { path: string; content: string }[];
  memoryMb?: number;
  pids?: number;
}

/**
 * A SpecFixture over a temp dir: one busybox root, work dir and log per Machine.
 * `appliedMemoryLimit` is driver-specific (an OCI driver reads its bundle).
 */
export async function busyboxSpecFixture(appliedMemoryLimit: SpecFixture['appliedMemoryLimit']): Promise<SpecFixture> {
  const dir = await mkdtemp(join(tmpdir(), 'aloft-contract-'));
  return {
    async spec(input) {
      const base = join(dir, input.machineId);
      const rootfs = join(base, 'rootfs');
      await mkdir(rootfs, { recursive: true });
      await buildBusyboxRoot(rootfs);
      return {
        machineId: input.machineId,
        rootfs,
        workDir: base,
        hostname: input.machineId,
        process: {
          args: input.args,
          env: { PATH: '/bin', ...input.env },
          cwd: input.cwd ?? '/',
          uid: input.uid ?? 0,
          gid: input.gid ?? 0,
          additionalGids: input.additionalGids ?? [],
        },
        limits: { cpus: 1, memoryMb: input.memoryMb ?? 128, ...(input.pids === undefined ? {} : { pids: input.pids }) },
        netnsPath: input.netnsPath ?? null,
        files: input.files ?? [],
        logPath: join(base, 'machine.log'),
      };
    },
    appliedMemoryLimit,
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

/** Options of the contract run. */
export interface ContractOptions {
  /** Skip the whole suite, with the reason (e.g. not root, runtime missing). */
  skip?: string | false;
  /** Also run the networking case (needs root, iproute2). Default true. */
  network?: boolean;
  /** The driver's `suspend` saves memory to disk when the Machine is idle (runsc, microvm); false = it freezes. */
  checkpoints?: boolean;
  /**
   * With `checkpoints`: true when a checkpoint also holds open TCP connections (a VM's
   * whole kernel is saved), so suspend checkpoints a busy Machine too; default false,
   * where suspend must freeze instead while a connection is open or recent (runsc).
   */
  checkpointsConnections?: boolean;
  /** The pids limit the fork-bomb case sets (default 64). */
  forkBombPids?: number;
  /**
   * True (default) when stdout and stderr lines keep their relative order in the log;
   * else the reason they cannot (each stream's own order is still checked).
   */
  interleavedLogs?: true | string;
  /**
   * What of this Machine the driver has left on the host (processes, cgroups, runtime
   * state, records), one description each: the remove case wants it non-empty while the
   * Machine runs and empty after remove. Without it only generic checks run.
   */
  leftovers?: (spec: RunSpec) => Promise<string[]>;
  /** The host processes that run this Machine (sandbox, VMM), described: none while checkpointed. */
  processes?: (spec: RunSpec) => Promise<string[]>;
  /** The file a checkpoint of this Machine saves its memory to (must exist while suspended). */
  suspendImage?: (spec: RunSpec) => string;
  /** Receives the timings the suspend cases measure (checkpoint, restore to first 200). */
  report?: (figures: Record<string, number>) => void;
}

/**
 * The contract every Driver runs (`runtime/driver.ts`): lifecycle, exit codes, stop
 * escalation, process settings, limits, idempotent remove, adoption by a new driver
 * instance, and networking through a netns from LinuxHostNetwork. `makeDriver` is called
 * more than once: every instance must see the same Machines.
 */
export function runDriverContract(
  name: string,
  makeDriver: () => Driver,
  makeSpecFixture: () => Promise<SpecFixture>,
  options: ContractOptions = {},
): void {
  describe(`Driver contract: ${name}`, { skip: options.skip ?? false }, () => {
    const driver = makeDriver();
    const started = new Set<string>();
    let fixture: SpecFixture;
    const newId = (): string => `c${randomBytes(6).toString('hex')}`;

    async function start(input: Omit<SpecInput, 'machineId'>): Promise<RunSpec> {
      const spec = await fixture.spec({ machineId: newId(), ...input });
      started.add(spec.machineId);
      await driver.start(spec);
      return spec;
    }
    const ctx: ContractContext = { driver, makeDriver, fixture: () => fixture, newId, start, track: (id) => started.add(id) };

    before(async () => {
      fixture = await makeSpecFixture();
      await driver.check();
    });

    after(async () => {
      // Remove through a fresh instance too: what one instance started, any can clean.
      await Promise.all([...started].map((id) => makeDriver().remove(id).catch(() => undefined)));
      await fixture?.cleanup();
    });

    it('runs the process with its env, cwd, user, files and memory limit; then adoption, escalation and remove', { timeout: 60_000 }, async () => {
      const spec = await start({
        args: ['sh', '-c', 'echo "uid=$(id -u) gid=$(id -g) groups=$(id -G) cwd=$(pwd) foo=$FOO file=$(cat /etc/aloft-test)"; trap "" TERM; exec sleep 600'],
        env: { FOO: 'bar baz' },
        cwd: '/tmp',
        uid: 1000,
        gid: 1000,
        additionalGids: [2000],
        files: [{ path: '/etc/aloft-test', content: 'placed' }],
        memoryMb: 96,
      });
      const id = spec.machineId;
      assert.equal(await driver.status(id), 'running');
      assert.ok((await driver.list()).includes(id));
      const line = await eventuallyInLog(spec.logPath, /uid=.*file=\S+/);
      assert.equal(line, 'uid=1000 gid=1000 groups=1000 2000 cwd=/tmp foo=bar baz file=placed');
      assert.equal(await fixture.appliedMemoryLimit(spec), 96 * 1024 * 1024);

      // A new instance (an agent restart) sees and stops it; SIGTERM is ignored, so SIGKILL.
      const adopter = makeDriver();
      assert.equal(await adopter.status(id), 'running');
      const waited = driver.wait(id);
      const stopped = await adopter.stop(id, { signal: 'SIGTERM', timeoutMs: 300 });
      assert.deepEqual(stopped, { exitCode: null, signal: 'SIGKILL', killed: true });
      assert.deepEqual(await waited, { exitCode: null, signal: 'SIGKILL' });
      assert.equal(await driver.status(id), 'stopped');
      // Stopping what is not running resolves at once, with how it ended.
      assert.deepEqual(await driver.stop(id, { signal: 'SIGTERM', timeoutMs: 60_000 }), { exitCode: null, signal: 'SIGKILL' });

      await driver.remove(id);
      await adopter.remove(id);
      assert.equal(await driver.status(id), 'absent');
      assert.ok(!(await driver.list()).includes(id));
    });

    it('reports the exit code of a process that exits by itself, to any instance', { timeout: 30_000 }, async () => {
      const spec = await start({ args: ['sh', '-c', 'echo bye; exit 3'] });
      assert.deepEqual(await driver.wait(spec.machineId), { exitCode: 3, signal: null });
      assert.equal(await driver.status(spec.machineId), 'stopped');
      assert.deepEqual(await makeDriver().wait(spec.machineId), { exitCode: 3, signal: null });
      assert.ok((await driver.list()).includes(spec.machineId));
      await driver.remove(spec.machineId);
      assert.equal(await driver.status(spec.machineId), 'absent');
    });

    it('delivers signals, and stop returns how a process that exits on the signal ended', { timeout: 30_000 }, async () => {
      const spec = await start({
        args: ['sh', '-c', 'trap "echo got-usr1" USR1; trap "exit 7" TERM; echo ready; while true; do sleep 600 & wait $!; done'],
      });
      await eventuallyInLog(spec.logPath, /^ready$/);
      await driver.signal(spec.machineId, 'SIGUSR1');
      await eventuallyInLog(spec.logPath, /^got-usr1$/);
      const result = await driver.stop(spec.machineId, { signal: 'SIGTERM', timeoutMs: 10_000 });
      assert.deepEqual(result, { exitCode: 7, signal: null });
      await driver.remove(spec.machineId);
    });

    it('execs beside the main process as root with its env, and lists its processes', { timeout: 30_000 }, async () => {
      const spec = await start({ args: ['sh', '-c', 'echo ready; exec sleep 600'], env: { FOO: 'main' }, uid: 1000, gid: 1000 });
      const id = spec.machineId;
      await eventuallyInLog(spec.logPath, /^ready$/);
      const out = await driver.exec(id, { args: ['sh', '-c', 'echo "uid=$(id -u) foo=$FOO bar=$BAR"; echo oops >&2; exit 4'], timeoutMs: 10_000, env: { BAR: 'x' } });
      assert.deepEqual(out, { stdout: 'uid=0 foo=main bar=x\n', stderr: 'oops\n', exitCode: 4 });
      await assert.rejects(driver.exec(id, { args: ['sleep', '30'], timeoutMs: 300 }), (err: Error) => isAloftError(err, 'EXEC_TIMEOUT'));
      // The main process comes first. Its pid is as the Machine sees it: 1 in a container;
      // in a VM, PID 1 is the guest init, which is not one of the Machine's processes.
      const processes = await driver.ps(id);
      // (runsc gives only the program's name, so no arguments are checked.)
      assert.match(processes[0]?.command ?? '', /sleep/, `the main process (sleep) is listed first: ${JSON.stringify(processes)}`);
      await driver.stop(id, { signal: 'SIGKILL', timeoutMs: 10_000 });
      await driver.remove(id);
    });

    it('pauses and resumes: a paused machine does no work, then goes on; stop works while paused', { timeout: 30_000 }, async () => {
      const spec = await start({ args: ['sh', '-c', 'echo ready; trap "echo got-usr1" USR1; while true; do sleep 600 & wait $!; done'] });
      const id = spec.machineId;
      await eventuallyInLog(spec.logPath, /^ready$/);
      await driver.pause(id);
      assert.equal(await driver.status(id), 'paused');
      assert.equal(await makeDriver().status(id), 'paused', 'any instance sees the pause');
      await driver.resume(id);
      assert.equal(await driver.status(id), 'running');
      await driver.signal(id, 'SIGUSR1');
      await eventuallyInLog(spec.logPath, /^got-usr1$/);
      await driver.pause(id);
      const stopped = await driver.stop(id, { signal: 'SIGKILL', timeoutMs: 10_000 });
      assert.equal(stopped.signal, 'SIGKILL');
      assert.equal(await driver.status(id), 'stopped');
      await driver.remove(id);
    });

    it('fails start loudly when the process cannot run, leaving nothing behind', { timeout: 30_000 }, async () => {
      const missing = await fixture.spec({ machineId: newId(), args: ['/bin/no-such-binary'] });
      started.add(missing.machineId);
      await assert.rejects(driver.start(missing), (err: Error) => /Cannot start machine/.test(err.message));
      assert.equal(await driver.status(missing.machineId), 'absent');
    });

    limitCases(ctx, options);
    suspendCases(ctx, options);

    describe('networking', { skip: options.network === false ? 'disabled' : process.getuid?.() === 0 ? false : 'needs root' }, () => {
      const tag = randomBytes(3).toString('hex');
      const third = randomInt(0, 256);
      const network = new LinuxHostNetwork({
        bridge: `alt${tag}`,
        netnsPrefix: `alt${tag}-`,
        vethPrefix: 'vc',
        ipv4Subnet: `172.29.${third}.0/24`,
      });
      const id = newId();
      const addresses = { ipv4: `172.29.${third}.2`, ipv6: machineIpv6(randomInt(1, 2 ** 32), 3, 4) };
      const extra: string[] = [];

      after(async () => {
        await makeDriver().remove(id).catch(() => undefined);
        await network.detach(id);
        for (const other of extra) {
          await makeDriver().remove(other).catch(() => undefined);
          await network.detach(other);
        }
        // The bridge is ours alone (unique name): delete it whatever state it is in.
        await new Promise((resolve) => execFile('ip', ['link', 'del', network.bridge], resolve));
      });

      it('serves HTTP from the machine at its IPv4 and IPv6, also on a second run in the same netns', { timeout: 60_000 }, async () => {
        await network.ensureBridge();
        const { netnsPath } = await network.attach(id, addresses);
        const spec = await fixture.spec({ machineId: id, args: ['httpd', '-f', '-p', '8080', '-h', '/www'], netnsPath });
        started.add(id);
        for (let run = 1; run <= 2; run++) {
          await driver.start(spec);
          assert.equal(await eventuallyGet(`http://${addresses.ipv4}:8080/`), 'hello from busybox\n', `IPv4, run ${run}`);
          assert.equal(await eventuallyGet(`http://[${addresses.ipv6}]:8080/`), 'hello from busybox\n', `IPv6, run ${run}`);
          const result = await driver.stop(id, { signal: 'SIGKILL', timeoutMs: 10_000 });
          assert.equal(result.signal, 'SIGKILL');
          await driver.remove(id);
        }
        // Whatever ran in it, the netns keeps only what the network made: lo and eth0.
        const links = await new Promise<string>((resolve) => execFile('ip', ['-n', `${network.netnsPrefix}${id}`, '-o', 'link'], (_e, out) => resolve(out)));
        assert.deepEqual(links.split('\n').filter(Boolean).map((l) => l.split(':')[1]?.trim().split('@')[0]), ['lo', 'eth0']);
      });

      // A counter that lives only in memory, beside an HTTP server; not a request before suspend.
      const counterServer = async (): Promise<{ spec: RunSpec; url: string }> => {
        await network.ensureBridge();
        const other = newId();
        extra.push(other);
        const ipv4 = `172.29.${third}.${3 + extra.length}`;
        const { netnsPath } = await network.attach(other, { ipv4, ipv6: machineIpv6(randomInt(1, 2 ** 32), 3, 4) });
        const spec = await fixture.spec({
          machineId: other,
          args: ['sh', '-c', 'echo start; (i=0; while true; do i=$((i+1)); echo "count $i"; sleep 0.1; done) & exec httpd -f -p 8080 -h /www'],
          netnsPath,
        });
        started.add(other);
        await driver.start(spec);
        return { spec, url: `http://${ipv4}:8080/` };
      };
      networkSuspendCases(ctx, options, counterServer, options.report ?? (() => undefined));
    });
  });
}
