/**
 * A deploy's progress events, as the API streams them (NDJSON) and the release keeps
 * them. Each has a `type`, a one-line `message` for people, and the Machine and process
 * group it is about when there is one; the CLI prints `message` and scripts read the rest.
 */

export type DeployEventType =
  /** What will happen: Machines to update, create and destroy per group, and any VM size change. */
  | 'plan'
  /** The release_command: started, its exit, its log lines. */
  | 'release_command'
  /** A step on one Machine: create, update, cordon, stop, destroy, started. */
  | 'machine'
  /** A Machine's checks changed, or it became healthy. */
  | 'health'
  /** A Machine's last log lines, shown when it failed. */
  | 'logs'
  /** Leases taken or released. */
  | 'lease'
  /** A strategy phase: a batch, the canary, the green set, the routing switch. */
  | 'phase'
  /** An automatic rollback began (its events follow in the same stream). */
  | 'rollback'
  /** The end: `status` is the release's final status. Always the last event. */
  | 'done';

export interface DeployEvent {
  type: DeployEventType;
  message: string;
  machine?: string;
  group?: string;
  /** The release the event belongs to (an auto-rollback's events carry its own). */
  release?: number;
  [key: string]: unknown;
}

/** Writes one event; the deployer stores it with the release and sends it to followers. */
export type Emit = (event: DeployEvent) => void;
