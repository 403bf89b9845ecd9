import { machineChecksOf, probe as realProbe, type HealthCheckSpec, type NamedCheck } from '../../health/index.ts';
import { systemClock, type Clock } from '../../lib/clock.ts';
import { isAloftError } from '../../lib/errors.ts';
import { silentLogger, type Logger } from '../../lib/log.ts';
import type { Machine, MachineCheckStatus } from '../../model/index.ts';
import type { Store } from '../../store/store.ts';
import { initialStatus } from './initial-statuses.ts';
import { MachineChecksRun, type CheckProbe } from './machine-checks-run.ts';
import { ProbeSlots } from './probe-slots.ts';

export interface CheckRunnerOptions {
  store: Store;
  /** Only Machines placed on this host are checked. */
  hostId: string;
  clock?: Clock;
  log?: Logger;
  /** At most this many probes in flight at once, over all Machines. Default 16. */
  maxConcurrent?: number;
  /** Runs one check; tests may count or hold probes. Default: the real probe. */
  probe?: CheckProbe;
}

interface Tracked {
  /** Instance, address and checks: a change of any starts a new run. */
  key: string;
  run: MachineChecksRun;
}

/**
 * Runs the health checks of this host's started Machines (Fly's flyd checks) and
 * records each status change on the Machine (`Machine.checks`), so a store watch sees a
 * `machine` put when a check flips. Follows the store: a Machine is checked while it is
 * `started`, from its address on the host bridge; leaving `started` stops its checks,
 * and a new run (start, restart, update) starts them from the statuses the agent reset
 * when it recorded `started`. Writes only on a change of status and never block probes;
 * one Machine's writes go in order.
 */
export class CheckRunner {
  readonly #store: Store;
  readonly #hostId: string;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #probe: CheckProbe;
  readonly #tracked = new Map<string, Tracked>();
  readonly #writes = new Map<string, Promise<void>>();
  #unwatch: (() => void) | undefined;
  #stopped = false;

  constructor(options: CheckRunnerOptions) {
    this.#store = options.store;
    this.#hostId = options.hostId;
    this.#clock = options.clock ?? systemClock;
    this.#log = (options.log ?? silentLogger).child({ part: 'checks' });
    const slots = new ProbeSlots(options.maxConcurrent ?? 16);
    const probe: CheckProbe = options.probe ?? ((host, check, signal, outputBytes) => realProbe(host, check, signal, outputBytes));
    this.#probe = (host, check, signal, outputBytes) => slots.run(() => probe(host, check, signal, outputBytes));
  }

  /** Starts checking this host's started Machines, then follows the store. */
  async start(): Promise<void> {
    const revision = await this.#store.revision();
    this.#unwatch = this.#store.watch(
      (change) => {
        if (change.kind !== 'machine') return;
        if (change.op === 'delete') this.#untrack(change.key);
        else this.sync(change.machine);
      },
      { fromRevision: revision, onError: (err) => this.#log.error({ err }, 'checks: store watch ended') },
    );
    for (const machine of await this.#store.listMachines({ hostId: this.#hostId })) this.sync(machine);
  }

  /** Stops every check and waits for the status writes already begun. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#unwatch?.();
    for (const id of [...this.#tracked.keys()]) this.#untrack(id);
    await Promise.all(this.#writes.values());
  }

  /** Machines whose checks run now (for tests and metrics). */
  get checking(): string[] {
    return [...this.#tracked.keys()];
  }

  /** Starts, keeps or stops `machine`'s checks to match its record. Idempotent. */
  sync(machine: Machine): void {
    if (this.#stopped) return;
    const host = machine.addresses?.ipv4 || machine.addresses?.ipv6 || '';
    const checks = machineChecksOf(machine.config);
    if (machine.hostId !== this.#hostId || machine.state !== 'started' || checks.length === 0 || host === '') {
      this.#untrack(machine.id);
      return;
    }
    const key = JSON.stringify([machine.instanceId, host, checks]);
    if (this.#tracked.get(machine.id)?.key === key) return;
    this.#untrack(machine.id);
    const now = this.#clock.now();
    const stored = machine.checks ?? [];
    // The agent reset them when it recorded `started`; a record from before checks
    // existed (or with other checks) starts over, and says so at once.
    const same = stored.length === checks.length && stored.every((s, i) => s.name === checks[i]!.name);
    const statuses = same ? stored : checks.map((c) => initialStatus(c, now));
    const run = new MachineChecksRun({
      machineId: machine.id,
      host,
      checks,
      statuses,
      startedAt: Math.min(now, machine.updatedAt),
      clock: this.#clock,
      probe: this.#probe,
      onChange: (next) => this.#record(machine.id, run, next),
    });
    this.#tracked.set(machine.id, { key, run });
    if (!same) this.#record(machine.id, run, statuses);
    this.#log.debug({ machine: machine.id, checks: checks.map(checkLabel) }, 'checks: started');
    run.start();
  }

  #untrack(id: string): void {
    const tracked = this.#tracked.get(id);
    if (tracked === undefined) return;
    tracked.run.stop();
    this.#tracked.delete(id);
  }

  /** Writes `statuses` after the Machine's earlier writes, unless its run ended meanwhile. */
  #record(id: string, run: MachineChecksRun, statuses: MachineCheckStatus[]): void {
    const previous = this.#writes.get(id) ?? Promise.resolve();
    const write = previous.then(async () => {
      if (run.stopped) return;
      try {
        await this.#store.updateMachine(id, { action: 'record checks of', patch: { checks: statuses }, expectState: ['started'] });
        this.#log.info({ machine: id, checks: statuses.map((s) => `${s.name}=${s.status}`) }, 'checks: status changed');
      } catch (err) {
        // It stopped or went away between the probe and the write: that run is over.
        if (isAloftError(err, 'ILLEGAL_TRANSITION') || isAloftError(err, 'MACHINE_NOT_FOUND')) return;
        this.#log.error({ err, machine: id }, 'checks: cannot record check status');
      }
    });
    this.#writes.set(id, write);
    void write.then(() => {
      if (this.#writes.get(id) === write) this.#writes.delete(id);
    });
  }
}

function checkLabel(check: NamedCheck): string {
  const spec: HealthCheckSpec = check.spec;
  return `${check.name}:${spec.type}:${spec.port}${spec.type === 'http' ? spec.path : ''}`;
}
