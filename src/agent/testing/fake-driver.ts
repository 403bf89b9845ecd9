import { AloftError } from '../../lib/errors.ts';
import type { Driver, DriverStatus, ExitStatus, RunSpec, SuspendOutcome } from '../../runtime/driver.ts';
import type { ExecRequest, ExecResult, ProcessInfo } from '../../runtime/exec-types.ts';

/**
 * An in-memory Driver for the agent's unit tests. Its state lives in a `world` object
 * that outlives any one driver instance, as real sandboxes outlive the agent.
 */
export class FakeWorld {
  readonly sandboxes = new Map<
    string,
    { running: boolean; paused?: boolean; checkpointed?: boolean; spec: RunSpec; exit?: ExitStatus; lagging?: boolean; waiters: ((s: ExitStatus) => void)[] }
  >();
  /**
   * How `suspend` answers, as a checkpointing driver would: 'checkpoint' saves (status
   * 'suspended', nothing runs), a string freezes with that reason. Undefined: the driver
   * has no `suspend` at all (see FakeDriver), and the agent pauses.
   */
  suspendAs: 'checkpoint' | string | undefined;
  /** Restores from a checkpoint so far. */
  restores: string[] = [];
  /** The next restore fails with this message (a corrupt or lost image). */
  failNextRestore: string | undefined;
  /** Signals delivered, as "<id> <signal>". */
  signals: string[] = [];
  /** Commands exec'd, as "<id> <args joined>". */
  execs: string[] = [];
  starts: string[] = [];
  failNextStart: string | undefined;
  /** How many of the next stops throw, as a runtime hiccup would. */
  failStops = 0;

  /**
   * The machine's process exits by itself. With `tellWaiters: false` the runtime already
   * reports it gone but the driver's `wait` has not answered yet (as a real one lags);
   * `tellWaiters(id)` answers it.
   */
  exit(id: string, status: ExitStatus, options: { tellWaiters?: boolean } = {}): void {
    const box = this.sandboxes.get(id);
    if (!box || !box.running) throw new Error(`fake: ${id} is not running`);
    box.running = false;
    box.exit = status;
    box.lagging = options.tellWaiters === false;
    if (!box.lagging) this.tellWaiters(id);
  }

  /** Answers the `wait`s of a machine that has exited. */
  tellWaiters(id: string): void {
    const box = this.sandboxes.get(id);
    if (box?.exit === undefined) throw new Error(`fake: ${id} has not exited`);
    box.lagging = false;
    for (const w of box.waiters.splice(0)) w(box.exit);
  }
}

export class FakeDriver implements Driver {
  readonly name = 'fake';
  constructor(readonly world: FakeWorld) {}

  /** As a checkpointing driver (runsc, microvm) when `world.suspendAs` is set; else pauses. */
  async suspend(id: string): Promise<SuspendOutcome> {
    const box = this.#running(id, 'suspend');
    if (this.world.suspendAs === undefined) {
      box.paused = true;
      return { how: 'paused', reason: 'the fake driver suspends by freezing' };
    }
    if (this.world.suspendAs !== 'checkpoint') {
      box.paused = true;
      return { how: 'paused', reason: this.world.suspendAs };
    }
    // The run ends (its waiters are not told: the Machine has not exited) and is saved.
    box.running = false;
    box.checkpointed = true;
    box.waiters.splice(0);
    return { how: 'checkpointed', ms: 1 };
  }

  async restoreFromSuspend(id: string): Promise<void> {
    const box = this.world.sandboxes.get(id);
    if (!box?.checkpointed) throw new AloftError('RUNTIME_FAILED', `fake: ${id} is not suspended`);
    if (this.world.failNextRestore !== undefined) {
      const message = this.world.failNextRestore;
      this.world.failNextRestore = undefined;
      throw new AloftError('RUNTIME_FAILED', message);
    }
    box.checkpointed = false;
    box.running = true;
    this.world.restores.push(id);
  }

  async check(): Promise<void> {}

  async start(spec: RunSpec): Promise<void> {
    if (this.world.failNextStart) {
      const message = this.world.failNextStart;
      this.world.failNextStart = undefined;
      throw new AloftError('RUNTIME_FAILED', message);
    }
    if (this.world.sandboxes.get(spec.machineId)?.running) throw new Error(`fake: ${spec.machineId} started twice`);
    this.world.starts.push(spec.machineId);
    this.world.sandboxes.set(spec.machineId, { running: true, spec, waiters: [] });
  }

  wait(id: string): Promise<ExitStatus> {
    const box = this.world.sandboxes.get(id);
    if (!box) return Promise.reject(new Error(`fake: no ${id}`));
    if (!box.running && box.lagging !== true) return Promise.resolve(box.exit ?? { exitCode: null, signal: null });
    return new Promise((resolve) => box.waiters.push(resolve));
  }

  async signal(id: string, signal: string): Promise<void> {
    this.world.signals.push(`${id} ${signal}`);
  }

  async pause(id: string): Promise<void> {
    const box = this.#running(id, 'pause');
    box.paused = true;
  }

  async resume(id: string): Promise<void> {
    const box = this.world.sandboxes.get(id);
    if (!box?.paused) throw new AloftError('RUNTIME_FAILED', `fake: ${id} is not paused`);
    box.paused = false;
  }

  /** Echoes its arguments on stdout; `exit N` exits N. */
  async exec(id: string, request: ExecRequest): Promise<ExecResult> {
    this.#running(id, 'exec');
    this.world.execs.push(`${id} ${request.args.join(' ')}`);
    const code = request.args[0] === 'exit' ? Number(request.args[1] ?? 0) : 0;
    return { stdout: `${request.args.join(' ')}\n`, stderr: '', exitCode: code };
  }

  async ps(id: string): Promise<ProcessInfo[]> {
    const box = this.#running(id, 'ps');
    return [{ pid: 1, command: box.spec.process.args.join(' '), cpuTimeMs: 10, rssBytes: 4096 }];
  }

  #running(id: string, action: string): { running: boolean; paused?: boolean; checkpointed?: boolean; spec: RunSpec; waiters: unknown[] } {
    const box = this.world.sandboxes.get(id);
    if (!box?.running || box.paused === true) throw new AloftError('RUNTIME_FAILED', `fake: cannot ${action} ${id} as it is not running`);
    return box;
  }

  async stop(id: string, options: { signal: string; timeoutMs: number }): Promise<ExitStatus> {
    if (this.world.failStops > 0) {
      this.world.failStops--;
      throw new AloftError('RUNTIME_FAILED', 'fake: stop failed');
    }
    const box = this.world.sandboxes.get(id);
    if (box?.checkpointed === true) box.checkpointed = false;
    if (!box || !box.running) return { exitCode: null, signal: null };
    box.paused = false;
    const status = { exitCode: null, signal: options.signal };
    this.world.exit(id, status);
    return status;
  }

  async status(id: string): Promise<DriverStatus> {
    const box = this.world.sandboxes.get(id);
    if (box?.checkpointed === true) return 'suspended';
    return !box ? 'absent' : box.running ? (box.paused === true ? 'paused' : 'running') : 'stopped';
  }

  async remove(id: string): Promise<void> {
    this.world.sandboxes.delete(id);
  }

  async list(): Promise<string[]> {
    return [...this.world.sandboxes.keys()];
  }
}
