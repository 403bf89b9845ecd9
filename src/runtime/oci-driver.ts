import { existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { access, mkdir, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { commandFailed, execCommand, mustRun, tail, type CommandOptions, type CommandRunner } from '../lib/command.ts';
import { AloftError, invalidField } from '../lib/errors.ts';
import { silentLogger, type Logger } from '../lib/log.ts';
import type { Driver, DriverStatus, ExitStatus, RunSpec, SuspendOutcome } from './driver.ts';
import type { ExecRequest, ExecResult, ProcessInfo } from './exec-types.ts';
import { parseRunscPs, readHostProcess } from './oci-ps.ts';
import { requireSignalNumber } from './exit-status.ts';
import { writeBundle, type OciRuntime } from './oci-bundle.ts';
import { checkpointCommandLine, needsEth0Restore, restoreCommandLine, runCommandLine, type RunCommandInput, type RunscNetwork } from './oci-commands.ts';
import { parseTcpActivity, readJson, removeFiles, suspendFiles, whyNotQuiet, writeJson, type RunFacts } from './oci-checkpoint.ts';
import { wasOomKilled } from './oci-oom.ts';
import {
  hasStarted,
  isMonitorAlive,
  monitorRecord,
  readExit,
  readRuntimeError,
  removeRecord,
  spawnMonitor,
  type MonitorRecord,
} from './oci-monitor.ts';
import { saveOrRestoreEth0 } from './netns-eth0.ts';
import { placeFiles } from './rootfs-files.ts';

/** Options of {@link OciDriver}. */
export interface OciDriverOptions {
  runtime: OciRuntime;
  /** The runtime's --root, e.g. `<dataDir>/runsc`. */
  stateRoot: string;
  /** Where run records (exit codes, monitor pids) live; default `<stateRoot>.aloft`. */
  recordRoot?: string;
  /** runsc's networking when the Machine has a netns (default "sandbox"). */
  runscNetwork?: RunscNetwork;
  /** Parent of every run's unique cgroup (default "/aloft"). */
  cgroupParent?: string;
  /** How long `start` waits for the process to exist (default 30 s). */
  startTimeoutMs?: number;
  /**
   * `suspend` checkpoints a runsc Machine only after its TCP counters have stayed still
   * this long (default 61 s): runsc's checkpoint fails, and kills the sandbox, on any
   * TCP endpoint, even one in TIME_WAIT (60 s in gVisor). Tests shorten it.
   */
  suspendQuietMs?: number;
  log?: Logger;
  /** Runs runtime and `ip` commands; injected by tests. */
  run?: CommandRunner;
}

const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
/** Quick runtime commands (state, kill, list). */
const QUICK_COMMAND: CommandOptions = { timeoutMs: 15_000, errorCode: 'RUNTIME_FAILED' };
/** `runsc delete` of a live sandbox takes ~1.5 s (HOST.md); allow for a loaded host. */
const DELETE_TIMEOUT_MS = 30_000;
const DELETE_COMMAND: CommandOptions = { timeoutMs: DELETE_TIMEOUT_MS, errorCode: 'RUNTIME_FAILED' };
/** How long a SIGKILLed machine may take to be reaped before stop gives up. */
const KILL_GRACE_MS = 15_000;
const POLL_MS = 20;
const DEFAULT_SUSPEND_QUIET_MS = 61_000;
/** A checkpoint writes the sandbox's whole memory: allow for a large Machine. */
const CHECKPOINT_COMMAND: CommandOptions = { timeoutMs: 120_000, errorCode: 'RUNTIME_FAILED' };
/** runc and runsc say this, in their words, when they have no such container. */
const NOT_FOUND = /does not exist|not found|no such/i;
const NOT_RUNNING = /not running|already exited|stopped|does not exist|no such process|no such file or directory/i;

/**
 * The `oci` driver: runs a Machine as an OCI bundle under gVisor's runsc or under runc.
 *
 * Each run has a monitor (oci-monitor.ts) that runs the runtime in the foreground and
 * records the exit code under `recordRoot`, so exit codes survive agent restarts. All
 * other state is the runtime's own (`--root`), so a new instance adopts what an
 * earlier one started: status, wait, stop and remove need nothing from memory.
 */
export class OciDriver implements Driver {
  readonly name: OciRuntime;
  readonly #stateRoot: string;
  readonly #recordRoot: string;
  readonly #runscNetwork: RunscNetwork;
  readonly #cgroupParent: string;
  readonly #startTimeoutMs: number;
  readonly #suspendQuietMs: number;
  readonly #log: Logger;
  readonly #run: CommandRunner;

  constructor(options: OciDriverOptions) {
    this.name = options.runtime;
    this.#stateRoot = options.stateRoot;
    this.#recordRoot = options.recordRoot ?? `${options.stateRoot}.aloft`;
    this.#runscNetwork = options.runscNetwork ?? 'sandbox';
    this.#cgroupParent = options.cgroupParent ?? '/aloft';
    this.#startTimeoutMs = options.startTimeoutMs ?? 30_000;
    this.#suspendQuietMs = options.suspendQuietMs ?? DEFAULT_SUSPEND_QUIET_MS;
    this.#log = (options.log ?? silentLogger).child({ part: 'runtime', runtime: options.runtime });
    this.#run = options.run ?? execCommand;
  }

  async check(): Promise<void> {
    const result = await this.#run(this.name, ['--version'], QUICK_COMMAND).catch(() => null);
    if (result === null || result.code !== 0) {
      throw new AloftError(
        'RUNTIME_MISSING',
        `Cannot use runtime '${this.name}' as it is not installed or does not answer \`${this.name} --version\`: ` +
          `install it with \`apt-get install -y ${this.name}\``,
        { details: { runtime: this.name } },
      );
    }
  }

  async start(spec: RunSpec): Promise<void> {
    const id = checkId(spec.machineId);
    const record = monitorRecord(this.#recordRoot, id);
    // Every run of this driver leaves a record until remove(), so with none there is no
    // runtime state to look at: skip `runsc state` (20-40 ms, the bulk of start's
    // overhead over a raw run). Should stale runtime state exist anyway, `run` refuses
    // loudly and the agent's cleanup removes it.
    const state = existsSync(record.dir) ? await this.#state(id) : null;
    if (state !== null && state.status !== 'stopped') {
      throw new AloftError('RUNTIME_FAILED', `Cannot start machine ${id} as it is already ${state.status}`);
    }
    // A stopped run's leftovers (runc keeps them) would make `run` refuse the id.
    if (state !== null) await this.#delete(id);
    await removeRecord(record);
    await mkdir(record.dir, { recursive: true, mode: 0o700 });
    await mkdir(this.#stateRoot, { recursive: true, mode: 0o700 });

    await placeFiles(spec.rootfs, spec.files);
    const cgroupsPath = `${this.#cgroupParent}/${id}-${randomBytes(4).toString('hex')}`;
    const bundle = await writeBundle(spec, join(spec.workDir, 'bundle'), { runtime: this.name, cgroupsPath });
    const facts: RunFacts = { bundle, logPath: spec.logPath, netnsPath: spec.netnsPath, workDir: spec.workDir, cgroupsPath };
    await writeJson(suspendFiles(record).runFile, facts);
    const input: RunCommandInput = {
      runtime: this.name,
      stateRoot: this.#stateRoot,
      runscNetwork: this.#runscNetwork,
      bundle,
      machineId: id,
      pidFile: record.pidFile,
      logFile: record.runtimeLogFile,
      netnsPath: spec.netnsPath,
    };
    if (needsEth0Restore(input) && spec.netnsPath !== null) {
      await saveOrRestoreEth0(this.#run, spec.netnsPath, join(spec.workDir, 'eth0.json'));
    }
    const logOffset = await stat(spec.logPath).then((s) => s.size, () => 0);
    const started = Date.now();
    const monitorPid = await spawnMonitor(record, runCommandLine(input), spec.logPath);

    const failure = await this.#startOutcome(id, record, started + this.#startTimeoutMs);
    if (failure !== null) {
      const output = await readLogTail(spec.logPath, logOffset);
      await this.#forget(id, record);
      throw new AloftError('RUNTIME_FAILED', `Cannot start machine ${id} with ${this.name} as ${failure}; its output: ${output}`, {
        details: { machineId: id, runtime: this.name, output },
      });
    }
    this.#log.info({ machineId: id, monitorPid, ms: Date.now() - started, cgroupsPath }, 'machine started');
  }

  /**
   * Null once the process runs (or ran and exited by itself); else why the start failed.
   * The pid file alone is not enough: runsc writes it before it loads the binary.
   */
  async #startOutcome(id: string, record: MonitorRecord, deadline: number): Promise<string | null> {
    for (;;) {
      if ((await readExit(record)) !== null) {
        const error = await readRuntimeError(record);
        return error === null ? null : `the runtime failed: ${error}`;
      }
      if (await hasStarted(record)) {
        const state = await this.#state(id);
        if (state?.status === 'running' || state?.status === 'stopped') return null;
      }
      if (!(await isMonitorAlive(record)) && (await readExit(record)) === null) return 'its monitor died';
      if (Date.now() > deadline) return `its process did not start within ${this.#startTimeoutMs} ms`;
      await delay(POLL_MS);
    }
  }

  async wait(machineId: string): Promise<ExitStatus> {
    return this.#waitExit(checkId(machineId), undefined);
  }

  async signal(machineId: string, signal: string): Promise<void> {
    const id = checkId(machineId);
    const number = requireSignalNumber(signal);
    await mustRun(this.#run, this.name, ['--root', this.#stateRoot, 'kill', id, String(number)], QUICK_COMMAND);
  }

  async stop(machineId: string, options: { signal: string; timeoutMs: number }): Promise<ExitStatus> {
    const id = checkId(machineId);
    const record = monitorRecord(this.#recordRoot, id);
    const status = await this.status(id);
    // A suspended Machine has no process: stopping it discards its image.
    if (status === 'suspended') {
      const files = suspendFiles(record);
      await removeFiles(files.suspendedFile, files.imageDir);
      return { exitCode: null, signal: null };
    }
    // A frozen process cannot act on a signal, not even SIGKILL under runsc: thaw it first.
    if (status === 'paused') await this.resume(id);
    else if (status !== 'running') {
      const exit = await readExit(record);
      return exit === null ? { exitCode: null, signal: null } : this.#withOom(record, exit);
    }
    await this.#signalUnlessGone(id, options.signal);
    const graceful = await this.#waitExitWithin(id, options.signal === 'SIGKILL' ? Math.max(options.timeoutMs, KILL_GRACE_MS) : options.timeoutMs);
    if (graceful !== null) return options.signal === 'SIGKILL' ? { ...graceful, killed: true } : graceful;

    this.#log.info({ machineId: id, signal: options.signal, timeoutMs: options.timeoutMs }, 'machine ignored the stop signal; killing');
    await this.#signalUnlessGone(id, 'SIGKILL');
    const killed = await this.#waitExitWithin(id, KILL_GRACE_MS);
    if (killed === null) {
      throw new AloftError('RUNTIME_FAILED', `Cannot stop machine ${id} as it still runs ${KILL_GRACE_MS} ms after SIGKILL`);
    }
    return { ...killed, killed: true };
  }

  async status(machineId: string): Promise<DriverStatus> {
    const id = checkId(machineId);
    const record = monitorRecord(this.#recordRoot, id);
    if (await exists(suspendFiles(record).suspendedFile)) return 'suspended';
    const state = await this.#state(id);
    if (state !== null) return state.status === 'stopped' ? 'stopped' : state.status === 'paused' ? 'paused' : 'running';
    // runsc forgets a container once its process exits; the record remembers.
    if ((await readExit(record)) !== null) return 'stopped';
    // Between the runtime forgetting it and the monitor writing the exit code.
    if (await isMonitorAlive(record)) return 'running';
    return 'absent';
  }

  async pause(machineId: string): Promise<void> {
    const id = checkId(machineId);
    await mustRun(this.#run, this.name, ['--root', this.#stateRoot, 'pause', id], QUICK_COMMAND);
  }

  async resume(machineId: string): Promise<void> {
    const id = checkId(machineId);
    await mustRun(this.#run, this.name, ['--root', this.#stateRoot, 'resume', id], QUICK_COMMAND);
  }

  async exec(machineId: string, request: ExecRequest): Promise<ExecResult> {
    const id = checkId(machineId);
    if (request.args.length === 0) throw invalidField('exec in machine', 'command', 'a non-empty list', request.args);
    const env = Object.entries(request.env ?? {}).flatMap(([key, value]) => ['--env', `${key}=${value}`]);
    // The env and cwd come from the bundle's main process; the user is root, as Fly's
    // exec is (an admin's tool), and said outright because runc and runsc differ here.
    const args = ['--root', this.#stateRoot, 'exec', '--user', '0:0', ...env, id, ...request.args];
    try {
      const result = await this.#run(this.name, args, { timeoutMs: request.timeoutMs, errorCode: 'RUNTIME_FAILED' });
      return { stdout: result.stdout, stderr: result.stderr, exitCode: result.code };
    } catch (err) {
      if (err instanceof AloftError && (err.cause as { killed?: unknown } | undefined)?.killed === true) {
        throw new AloftError('EXEC_TIMEOUT', `Cannot exec in machine ${id} as the command must finish within ${request.timeoutMs / 1000}s: got ${formatArgs(request.args)} still running`, {
          cause: err,
        });
      }
      throw err;
    }
  }

  async ps(machineId: string): Promise<ProcessInfo[]> {
    const id = checkId(machineId);
    if (this.name === 'runsc') return parseRunscPs(await mustRun(this.#run, this.name, ['--root', this.#stateRoot, 'ps', id], QUICK_COMMAND));
    const out = await mustRun(this.#run, this.name, ['--root', this.#stateRoot, 'ps', '--format', 'json', id], QUICK_COMMAND);
    // runc gives host pids only; /proc has the rest, including the Machine's own pid.
    const pids = (JSON.parse(out.trim() || '[]') ?? []) as number[];
    const processes = await Promise.all(pids.map((pid) => readHostProcess(pid)));
    return processes.filter((p): p is ProcessInfo => p !== undefined).sort((a, b) => a.pid - b.pid);
  }

  /**
   * Suspends a running Machine. runsc: a checkpoint to an image in the run's record, but
   * only when the sandbox's TCP counters have been still for the quiet period and no
   * connection is open (a checkpoint that meets any TCP endpoint fails and kills the
   * sandbox, HOST.md); waits up to the quiet period for that, and freezes instead (as
   * `pause`) when traffic shows. runc: always a freeze, as `runc checkpoint` needs CRIU,
   * which these hosts do not have.
   */
  async suspend(machineId: string): Promise<SuspendOutcome> {
    const id = checkId(machineId);
    const status = await this.status(id);
    if (status !== 'running') {
      throw new AloftError('RUNTIME_FAILED', `Cannot suspend machine ${id} as it must be running: got ${status}`);
    }
    const unsafe = this.name === 'runsc' ? await this.#whyNotQuiet(id) : 'runc checkpoints need CRIU, which aloft does not use';
    if (unsafe !== null) {
      await this.pause(id);
      this.#log.info({ machineId: id, reason: unsafe }, 'machine frozen instead of checkpointed');
      return { how: 'paused', reason: unsafe };
    }
    const started = Date.now();
    await this.checkpoint(id);
    return { how: 'checkpointed', ms: Date.now() - started };
  }

  /**
   * Null when the sandbox has had no TCP traffic for the quiet period and has nothing
   * open (waiting out the rest of the period if need be); else why a checkpoint is unsafe.
   */
  async #whyNotQuiet(id: string): Promise<string | null> {
    const record = monitorRecord(this.#recordRoot, id);
    // Before any sample, the run's start is the last time the counters (all zero) moved.
    const startedAt = await stat(record.pidFile).then((s) => s.mtimeMs, () => Date.now());
    return whyNotQuiet({
      sampleFile: suspendFiles(record).tcpSampleFile,
      startedAt,
      quietMs: this.#suspendQuietMs,
      read: async () => {
        const args = ['--root', this.#stateRoot, 'exec', '--user', '0:0', id, 'cat', '/proc/net/snmp', '/proc/net/tcp', '/proc/net/tcp6'];
        const read = await this.#run(this.name, args, QUICK_COMMAND);
        const activity = read.code === 0 ? parseTcpActivity(read.stdout) : null;
        return activity ?? `its TCP state cannot be read (\`cat /proc/net/snmp\` in the machine: ${tail(read.stderr) || `exit ${read.code}`})`;
      },
    });
  }


  /**
   * `runsc checkpoint` of a running Machine into its record; the sandbox ends and status
   * answers 'suspended' until `restoreFromSuspend`. A refused checkpoint has killed the
   * sandbox (HOST.md): that throws RUNTIME_FAILED and the Machine reads as stopped.
   */
  async checkpoint(machineId: string): Promise<void> {
    const id = checkId(machineId);
    if (this.name !== 'runsc') throw new AloftError('RUNTIME_FAILED', `Cannot checkpoint machine ${id} as the runtime must be runsc: got ${this.name} (runc needs CRIU)`);
    const record = monitorRecord(this.#recordRoot, id);
    const files = suspendFiles(record);
    const facts = await readJson<RunFacts>(files.runFile);
    if (facts === null) throw new AloftError('RUNTIME_FAILED', `Cannot checkpoint machine ${id} as its run record is missing`);
    await removeFiles(files.imageDir);
    await writeJson(files.checkpointingFile, { at: Date.now() });
    const command = checkpointCommandLine({ stateRoot: this.#stateRoot, runscNetwork: this.#runscNetwork, machineId: id, netnsPath: facts.netnsPath }, files.imageDir);
    const result = await this.#run(command[0]!, command.slice(1), CHECKPOINT_COMMAND).catch((err: unknown) => err as Error);
    if (result instanceof Error || result.code !== 0) {
      await removeFiles(files.checkpointingFile, files.imageDir);
      const why = result instanceof Error ? result.message : tail(result.stderr);
      throw new AloftError('RUNTIME_FAILED', `Cannot checkpoint machine ${id} with runsc as it refused (its sandbox is gone): ${why}`, {
        details: { machineId: id },
      });
    }
    // The run's monitor records the sandbox's end: wait for it, then drop that record, so
    // the restore's run is the one that reports the Machine's exit.
    const deadline = Date.now() + DELETE_TIMEOUT_MS;
    while ((await isMonitorAlive(record)) && Date.now() < deadline) await delay(POLL_MS);
    await removeFiles(record.exitFile, record.pidFile);
    await writeJson(files.suspendedFile, { at: Date.now() });
    await removeFiles(files.checkpointingFile);
    this.#log.info({ machineId: id }, 'machine checkpointed');
  }

  /** Brings a checkpointed Machine back (`runsc restore` under a new monitor); resolves once it runs. */
  async restoreFromSuspend(machineId: string): Promise<void> {
    const id = checkId(machineId);
    const record = monitorRecord(this.#recordRoot, id);
    const files = suspendFiles(record);
    const facts = await readJson<RunFacts>(files.runFile);
    if (!(await exists(files.suspendedFile)) || facts === null) {
      throw new AloftError('RUNTIME_FAILED', `Cannot restore machine ${id} as it must be suspended: got ${await this.status(id)}`);
    }
    // The checkpointed sandbox's leftovers would make `restore` refuse the id.
    if ((await this.#state(id)) !== null) await this.#delete(id);
    const input: RunCommandInput = {
      runtime: this.name,
      stateRoot: this.#stateRoot,
      runscNetwork: this.#runscNetwork,
      bundle: facts.bundle,
      machineId: id,
      pidFile: record.pidFile,
      logFile: record.runtimeLogFile,
      netnsPath: facts.netnsPath,
    };
    if (needsEth0Restore(input) && facts.netnsPath !== null) {
      await saveOrRestoreEth0(this.#run, facts.netnsPath, join(facts.workDir, 'eth0.json'));
    }
    const logOffset = await stat(facts.logPath).then((s) => s.size, () => 0);
    const started = Date.now();
    await spawnMonitor(record, restoreCommandLine(input, files.imageDir), facts.logPath);
    // From here the new run's exit is the Machine's exit.
    await removeFiles(files.suspendedFile);
    const failure = await this.#startOutcome(id, record, started + this.#startTimeoutMs);
    if (failure !== null) {
      const output = await readLogTail(facts.logPath, logOffset);
      throw new AloftError('RUNTIME_FAILED', `Cannot restore machine ${id} with runsc as ${failure}; its output: ${output}`, {
        details: { machineId: id, output },
      });
    }
    // The restored counters are the checkpoint's; the quiet period starts again now.
    await removeFiles(files.tcpSampleFile, files.imageDir);
    this.#log.info({ machineId: id, ms: Date.now() - started }, 'machine restored');
  }

  /** Adds `oomKilled` to a SIGKILL exit when the kernel's OOM killer did it. */
  async #withOom(record: MonitorRecord, exit: ExitStatus): Promise<ExitStatus> {
    if (exit.signal !== 'SIGKILL') return exit;
    const facts = await readJson<RunFacts>(suspendFiles(record).runFile).catch(() => null);
    if (facts === null || !(await wasOomKilled(facts.cgroupsPath, this.#run))) return exit;
    return { ...exit, oomKilled: true };
  }

  async remove(machineId: string): Promise<void> {
    const id = checkId(machineId);
    await this.#forget(id, monitorRecord(this.#recordRoot, id));
  }

  async list(): Promise<string[]> {
    const out = await mustRun(this.#run, this.name, ['--root', this.#stateRoot, 'list', '--format', 'json'], QUICK_COMMAND).catch(
      (err: unknown) => {
        // A root that was never created holds no containers.
        if (err instanceof AloftError && NOT_FOUND.test(String(err.details?.['stderr']))) return 'null';
        throw err;
      },
    );
    const containers = (JSON.parse(out.trim() || 'null') ?? []) as { id?: unknown }[];
    const ids = new Set(containers.map((c) => (typeof c.id === 'string' ? c.id : '')).filter((id) => id !== ''));
    const records = await readdir(this.#recordRoot).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return [] as string[];
      throw err;
    });
    for (const id of records) if (ID_PATTERN.test(id)) ids.add(id);
    return [...ids].sort();
  }

  /** The exit status, or null when the machine still runs after `ms`. */
  async #waitExitWithin(id: string, ms: number): Promise<ExitStatus | null> {
    const abort = new AbortController();
    const waiting = this.#waitExit(id, abort.signal);
    // Once the race is decided, the loser's abort rejection is expected.
    waiting.catch(() => undefined);
    try {
      return await Promise.race([waiting, delay(ms, null, { signal: abort.signal })]);
    } finally {
      abort.abort();
    }
  }

  /** Waits for the run's exit code; polls because the monitor may belong to an earlier agent. */
  async #waitExit(id: string, abort: AbortSignal | undefined): Promise<ExitStatus> {
    const record = monitorRecord(this.#recordRoot, id);
    const files = suspendFiles(record);
    for (let tick = 0; ; tick++) {
      if (abort?.aborted === true) throw abort.reason;
      // A checkpoint ends the sandbox and its run, but the Machine has not exited: it
      // waits, suspended, for its restore (whose run then ends the wait) or its removal.
      if ((await exists(files.checkpointingFile)) || (await exists(files.suspendedFile))) {
        await delay(POLL_MS * 5, undefined, abort === undefined ? undefined : { signal: abort });
        tick = -1;
        continue;
      }
      const exit = await readExit(record);
      if (exit !== null) return this.#withOom(record, exit);
      // Now and then, make sure someone will still write that file.
      if (tick % 25 === 0 && !(await isMonitorAlive(record))) {
        const late = await readExit(record);
        if (late !== null) return late;
        const state = await this.#state(id);
        if (state === null && tick === 0) {
          throw new AloftError('RUNTIME_FAILED', `Cannot wait for machine ${id} as ${this.name} has no such machine`);
        }
        // The monitor died (killed by hand?): the exit code is lost, but not the exit.
        if (state === null || state.status === 'stopped') return { exitCode: null, signal: null };
      }
      await delay(POLL_MS * 2, undefined, abort === undefined ? undefined : { signal: abort });
    }
  }

  async #signalUnlessGone(id: string, signal: string): Promise<void> {
    try {
      await this.signal(id, signal);
    } catch (err) {
      // It may have exited since we looked: runsc forgets a sandbox as soon as it dies and
      // then answers "loading container: … no such file or directory". Whatever the
      // wording, a process that is gone (or goes within the grace) needs no signal.
      if (err instanceof AloftError && NOT_RUNNING.test(String(err.details?.['stderr']))) return;
      if ((await this.#waitExitWithin(id, KILL_GRACE_MS)) !== null) return;
      throw err;
    }
  }

  /** Kills what still runs, deletes the runtime's state, waits for the monitor, drops the record. */
  async #forget(id: string, record: MonitorRecord): Promise<void> {
    // `runsc delete --force` on a live sandbox can fail with "context deadline exceeded";
    // SIGKILL first, and a live sandbox ends in milliseconds.
    const state = await this.#state(id);
    if (state?.status === 'paused') await this.resume(id).catch(() => undefined);
    if (state !== null && state.status !== 'stopped') {
      await this.#signalUnlessGone(id, 'SIGKILL');
      if ((await readExit(record)) === null && (await isMonitorAlive(record))) await this.#waitExitWithin(id, KILL_GRACE_MS);
    }
    await this.#delete(id);
    const deadline = Date.now() + DELETE_TIMEOUT_MS;
    // The monitor writes into the record when the runtime returns: let it finish first.
    while ((await isMonitorAlive(record)) && Date.now() < deadline) await delay(POLL_MS);
    await removeRecord(record);
  }

  async #delete(id: string): Promise<void> {
    const args = ['--root', this.#stateRoot, 'delete', '--force', id];
    const result = await this.#run(this.name, args, DELETE_COMMAND);
    if (result.code !== 0 && !NOT_FOUND.test(result.stderr)) throw commandFailed(this.name, args, result, 'RUNTIME_FAILED');
  }

  /** The runtime's `state`, or null when it has no such container. */
  async #state(id: string): Promise<{ status: string } | null> {
    const args = ['--root', this.#stateRoot, 'state', id];
    const result = await this.#run(this.name, args, QUICK_COMMAND);
    if (result.code !== 0) {
      if (NOT_FOUND.test(result.stderr)) return null;
      throw commandFailed(this.name, args, result, 'RUNTIME_FAILED');
    }
    const parsed = JSON.parse(result.stdout) as { status?: unknown };
    return { status: typeof parsed.status === 'string' ? parsed.status : 'unknown' };
  }
}

function formatArgs(args: readonly string[]): string {
  return JSON.stringify(args.join(' '));
}

function checkId(machineId: string): string {
  if (!ID_PATTERN.test(machineId)) {
    throw invalidField('drive machine', 'machineId', '1 to 128 of [A-Za-z0-9_.-], starting alphanumeric', machineId);
  }
  return machineId;
}

/** What the runtime (and the process) wrote to the log since `offset`: the start error. */
async function readLogTail(logPath: string, offset: number): Promise<string> {
  const text = await readFile(logPath).then(
    (buffer) => buffer.subarray(offset).toString('utf8'),
    () => '',
  );
  return tail(text) || '(no output)';
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}
