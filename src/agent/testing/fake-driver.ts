import { AloftError } from '../../lib/errors.ts';
import type { Driver, ExitStatus, RunSpec } from '../../runtime/driver.ts';

/**
 * An in-memory Driver for the agent's unit tests. Its state lives in a `world` object
 * that outlives any one driver instance, as real sandboxes outlive the agent.
 */
export class FakeWorld {
  readonly sandboxes = new Map<string, { running: boolean; spec: RunSpec; exit?: ExitStatus; waiters: ((s: ExitStatus) => void)[] }>();
  starts: string[] = [];
  failNextStart: string | undefined;
  /** How many of the next stops throw, as a runtime hiccup would. */
  failStops = 0;

  /** The machine's process exits by itself. */
  exit(id: string, status: ExitStatus): void {
    const box = this.sandboxes.get(id);
    if (!box || !box.running) throw new Error(`fake: ${id} is not running`);
    box.running = false;
    box.exit = status;
    for (const w of box.waiters.splice(0)) w(status);
  }
}

export class FakeDriver implements Driver {
  readonly name = 'fake';
  constructor(readonly world: FakeWorld) {}

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
    if (!box.running) return Promise.resolve(box.exit ?? { exitCode: null, signal: null });
    return new Promise((resolve) => box.waiters.push(resolve));
  }

  async signal(): Promise<void> {}

  async stop(id: string, options: { signal: string; timeoutMs: number }): Promise<ExitStatus> {
    if (this.world.failStops > 0) {
      this.world.failStops--;
      throw new AloftError('RUNTIME_FAILED', 'fake: stop failed');
    }
    const box = this.world.sandboxes.get(id);
    if (!box || !box.running) return { exitCode: null, signal: null };
    const status = { exitCode: null, signal: options.signal };
    this.world.exit(id, status);
    return status;
  }

  async status(id: string): Promise<'running' | 'stopped' | 'absent'> {
    const box = this.world.sandboxes.get(id);
    return !box ? 'absent' : box.running ? 'running' : 'stopped';
  }

  async remove(id: string): Promise<void> {
    this.world.sandboxes.delete(id);
  }

  async list(): Promise<string[]> {
    return [...this.world.sandboxes.keys()];
  }
}
