/**
 * What gates every step of a rollout: "is this Machine, at this instance, healthy?".
 * The real one waits on the agent's checks (agent/checks, wired by the API server);
 * tests pass fakes. It answers as soon as it knows: a Machine that exits during its
 * checks is `exited` at once, never a wait for the timeout (Fly's #2653).
 */

/** One check as the gate last saw it. */
export interface HealthCheckView {
  name: string;
  status: string;
  output?: string;
}

export type HealthOutcome =
  | { outcome: 'passing' }
  | { outcome: 'exited'; state: string; exitCode: number | null; reason?: string }
  | { outcome: 'timeout'; checks: HealthCheckView[] };

export interface HealthWaitOptions {
  /** The Machine version being gated: an earlier instance's checks do not count. */
  instanceId: string;
  timeoutMs: number;
  signal?: AbortSignal;
  /** Called with the checks each time one changes (the deploy shows them live). */
  onUpdate?: (checks: HealthCheckView[]) => void;
}

export interface HealthGate {
  waitHealthy(machineId: string, options: HealthWaitOptions): Promise<HealthOutcome>;
}
