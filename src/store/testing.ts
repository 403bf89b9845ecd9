import { AloftError } from '../lib/errors.ts';
import { instanceId, machineId, shortId } from '../lib/ids.ts';
import type { App, Machine, MachineEvent } from '../model/index.ts';
import type { Change, Store } from './store.ts';

/** Test helpers for anything built on a Store: sample records and a change recorder. */

let counter = 0;

/** A valid app with a unique name; `overrides` wins. */
export function sampleApp(overrides: Partial<App> = {}): App {
  counter += 1;
  return {
    id: `app_${shortId()}`,
    name: `app-${counter}-${shortId(2)}`,
    orgSlug: 'personal',
    network: 1000 + counter,
    status: 'pending',
    createdAt: Date.now(),
    ...overrides,
  };
}

/** A valid machine in `overrides.appName` (default "app"), state `created`, version 1. */
export function sampleMachine(overrides: Partial<Machine> = {}): Machine {
  counter += 1;
  const now = Date.now();
  return {
    id: machineId(),
    name: `machine-${counter}`,
    appName: 'app',
    region: 'ams',
    hostId: 'host-1',
    state: 'created',
    instanceId: instanceId(now),
    config: {
      image: 'registry.local/app:latest',
      env: { PORT: '8080' },
      guest: { cpu_kind: 'shared', cpus: 1, memory_mb: 256 },
      services: [{ protocol: 'tcp', internal_port: 8080, ports: [{ port: 443, handlers: ['tls', 'http'] }] }],
    },
    imageRef: { registry: 'registry.local', repository: 'app', tag: 'latest', digest: `sha256:${'a'.repeat(64)}` },
    addresses: null,
    version: 1,
    createdAt: now,
    updatedAt: now,
    ...overrides,
  };
}

/** A machine event; `overrides` wins. */
export function sampleEvent(overrides: Partial<MachineEvent> = {}): MachineEvent {
  return { id: shortId(), type: 'launch', status: 'created', source: 'user', timestamp: Date.now(), ...overrides };
}

/**
 * Records what a watch delivers, so tests can wait for a change instead of sleeping.
 * Call stop() when done (closing the store also ends it).
 */
export class ChangeRecorder {
  readonly changes: Change[] = [];
  readonly #stop: () => void;
  #waiters: { ready: () => boolean; resolve: () => void }[] = [];

  /** `onChange` runs on each change after it is recorded, e.g. to write from inside a watch. */
  constructor(store: Store, options: { fromRevision?: number; onChange?: (change: Change) => void } = {}) {
    const { onChange, ...watchOptions } = options;
    this.#stop = store.watch((change) => {
      this.changes.push(change);
      onChange?.(change);
      this.#check();
    }, watchOptions);
  }

  /** Resolves with everything recorded once `until` holds; rejects after `timeoutMs`. */
  async waitFor(until: (changes: readonly Change[]) => boolean, timeoutMs = 2000): Promise<Change[]> {
    if (!until(this.changes)) {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          this.#waiters = this.#waiters.filter((w) => w !== waiter);
          reject(
            new AloftError(
              'INTERNAL',
              `Cannot wait for changes as they must arrive within ${timeoutMs} ms: got ${JSON.stringify(this.changes.map(describeChange))}`,
            ),
          );
        }, timeoutMs);
        const waiter = {
          ready: () => until(this.changes),
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        };
        this.#waiters.push(waiter);
      });
    }
    return [...this.changes];
  }

  /** Waits until a change with revision >= `revision` was recorded. */
  async waitForRevision(revision: number, timeoutMs?: number): Promise<Change[]> {
    return this.waitFor((changes) => changes.some((c) => c.revision >= revision), timeoutMs);
  }

  stop(): void {
    this.#stop();
  }

  #check(): void {
    const ready = this.#waiters.filter((w) => w.ready());
    this.#waiters = this.#waiters.filter((w) => !ready.includes(w));
    for (const w of ready) w.resolve();
  }
}

/** A change in a few words, for test failure messages: "3 machine put abc". */
export function describeChange(change: Change): string {
  return `${change.revision} ${change.kind} ${change.op} ${change.key}`;
}
