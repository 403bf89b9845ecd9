import type { HealthCheckSpec, NamedCheck, ProbeResult } from '../../health/index.ts';
import type { Clock } from '../../lib/clock.ts';
import { CHECK_OUTPUT_MAX_BYTES, truncateCheckOutput, type MachineCheckStatus } from '../../model/index.ts';

/** Runs one check once against `host` and says what it saw (output included). */
export type CheckProbe = (host: string, check: HealthCheckSpec, signal: AbortSignal, outputBytes: number) => Promise<ProbeResult>;

export interface MachineChecksRunOptions {
  machineId: string;
  /** The address the Machine's checks are probed at (its IPv4 on the host bridge). */
  host: string;
  checks: readonly NamedCheck[];
  /** The statuses to start from, one per check in `checks` order. */
  statuses: readonly MachineCheckStatus[];
  /** When the Machine became started: grace periods count from here. */
  startedAt: number;
  clock: Clock;
  probe: CheckProbe;
  /** Called with every status after one changed, or failed for another reason (never for the body alone). */
  onChange: (statuses: MachineCheckStatus[]) => void;
}

/**
 * The checks of one run of one Machine. Each check is probed after its grace period,
 * then every interval counted from the end of the last probe (a slow Machine is never
 * probed back-to-back). A status only changes on a verdict that differs from the last
 * one, so a steady Machine causes no writes. stop() cancels the timers and aborts
 * probes in flight; nothing is reported after it.
 */
export class MachineChecksRun {
  readonly #o: MachineChecksRunOptions;
  readonly #statuses: MachineCheckStatus[];
  readonly #timers: ({ cancel(): void } | undefined)[];
  readonly #abort = new AbortController();

  constructor(options: MachineChecksRunOptions) {
    this.#o = options;
    this.#statuses = options.statuses.map((s) => ({ ...s }));
    this.#timers = options.checks.map(() => undefined);
  }

  /** The current statuses (a copy). */
  get statuses(): MachineCheckStatus[] {
    return this.#statuses.map((s) => ({ ...s }));
  }

  get stopped(): boolean {
    return this.#abort.signal.aborted;
  }

  start(): void {
    const sinceStart = Math.max(0, this.#o.clock.now() - this.#o.startedAt);
    this.#o.checks.forEach((check, i) => {
      // A check that cannot run (no port) stays critical; probing it would only say so again.
      if (check.invalid === undefined) this.#schedule(i, Math.max(0, check.spec.gracePeriodMs - sinceStart));
    });
  }

  stop(): void {
    this.#abort.abort();
    for (const timer of this.#timers) timer?.cancel();
  }

  #schedule(i: number, delayMs: number): void {
    this.#timers[i] = this.#o.clock.setTimeout(() => {
      this.#timers[i] = undefined;
      void this.#run(i);
    }, delayMs);
  }

  async #run(i: number): Promise<void> {
    const check = this.#o.checks[i]!;
    const { signal } = this.#abort;
    let result: ProbeResult;
    try {
      result = await this.#o.probe(this.#o.host, check.spec, signal, CHECK_OUTPUT_MAX_BYTES);
    } catch (err) {
      result = { ok: false, detail: err instanceof Error ? err.message : String(err) };
    }
    if (signal.aborted) return;
    const status = result.ok ? 'passing' : 'critical';
    const current = this.#statuses[i]!;
    const output = truncateCheckOutput(result.output ?? result.detail);
    // A new status, or the same one for another reason (refused, then 404): a person
    // reading the check must see why it fails now. A body that merely differs between
    // probes is not a new reason, and is not worth a store write per interval.
    if (current.status !== status || reasonOf(current.output) !== reasonOf(output)) {
      this.#statuses[i] = { name: check.name, status, output, updatedAt: this.#o.clock.now() };
      this.#o.onChange(this.statuses);
    }
    this.#schedule(i, check.spec.intervalMs);
  }
}

/** What an output says happened, without the body: "404 Not Found", "ECONNREFUSED", "Success". */
function reasonOf(output: string): string {
  const colon = output.indexOf(':');
  return colon < 0 ? output : output.slice(0, colon);
}
