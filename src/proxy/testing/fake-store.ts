import type { App, Machine } from '../../model/index.ts';
import { AloftError } from '../../lib/errors.ts';
import type { Change, WatchOptions } from '../../store/store.ts';
import type { RouteSource } from '../route-table.ts';

/**
 * An in-memory store with just the surface the proxy reads, plus writers that publish
 * Changes the way a real Store does: in revision order, delivered asynchronously, and
 * replayed to watchers that start from an older revision. For unit tests only.
 */
export class FakeStore implements RouteSource {
  readonly #apps = new Map<string, App>();
  readonly #machines = new Map<string, Machine>();
  readonly #log: Change[] = [];
  readonly #watchers = new Map<(change: Change) => void, WatchOptions['onError']>();

  async revision(): Promise<number> {
    return this.#log.length;
  }

  async listApps(): Promise<App[]> {
    return [...this.#apps.values()];
  }

  async getApp(name: string): Promise<App | undefined> {
    return this.#apps.get(name);
  }

  async listMachines(filter: { appName?: string } = {}): Promise<Machine[]> {
    return [...this.#machines.values()].filter((m) => filter.appName === undefined || m.appName === filter.appName);
  }

  watch(listener: (change: Change) => void, options: WatchOptions = {}): () => void {
    const from = options.fromRevision ?? this.#log.length;
    const backlog = this.#log.slice(from);
    let live = false;
    const queued: Change[] = [];
    const deliver = (change: Change): void => {
      if (live) listener(change);
      else queued.push(change);
    };
    this.#watchers.set(deliver, options.onError);
    // Replay, then go live, on a later tick: watchers never run inside watch().
    queueMicrotask(() => {
      for (const change of backlog) listener(change);
      for (const change of queued) listener(change);
      live = true;
    });
    return () => void this.#watchers.delete(deliver);
  }

  /** Creates or replaces an app; returns the new revision. */
  putApp(app: App): number {
    this.#apps.set(app.name, app);
    return this.#publish({ revision: 0, kind: 'app', op: 'put', key: app.name, app });
  }

  deleteApp(name: string): number {
    this.#apps.delete(name);
    for (const [id, m] of this.#machines) if (m.appName === name) this.#machines.delete(id);
    return this.#publish({ revision: 0, kind: 'app', op: 'delete', key: name });
  }

  /** Creates or replaces a machine (bumping its version); returns the new revision. */
  putMachine(machine: Machine): number {
    const previous = this.#machines.get(machine.id);
    const stored = { ...machine, version: (previous?.version ?? 0) + 1, updatedAt: Date.now() };
    this.#machines.set(machine.id, stored);
    return this.#publish({ revision: 0, kind: 'machine', op: 'put', key: machine.id, machine: stored });
  }

  /** Applies `patch` to a stored machine; returns the new revision. */
  patchMachine(id: string, patch: Partial<Machine>): number {
    const current = this.#machines.get(id);
    if (current === undefined) throw new Error(`fake store: no machine ${id}`);
    return this.putMachine({ ...current, ...patch });
  }

  deleteMachine(id: string): number {
    this.#machines.delete(id);
    return this.#publish({ revision: 0, kind: 'machine', op: 'delete', key: id });
  }

  /**
   * Writes `changes` without telling watchers, then fails every watch as a real store
   * does when a watcher fell behind its compacted change log.
   */
  compactWatchers(changes: () => void): void {
    const watchers = [...this.#watchers];
    this.#watchers.clear();
    changes();
    const error = new AloftError('STORE_FAILED', 'Cannot resume watch as the change log was compacted');
    for (const [, onError] of watchers) onError?.(error);
  }

  #publish(change: Change): number {
    const stamped = { ...change, revision: this.#log.length + 1 };
    this.#log.push(stamped);
    for (const watcher of this.#watchers.keys()) queueMicrotask(() => watcher(stamped));
    return stamped.revision;
  }
}
