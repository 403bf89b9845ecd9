import type { MachineCheckStatus } from './check-status.ts';
import type { MachineConfig } from './machine-config.ts';

/**
 * Machine states, as Fly names them (PLATFORM.md, "States").
 * Persistent states are where a Machine rests; transient ones are on the way;
 * terminal ones never change again.
 */
export const PERSISTENT_STATES = ['created', 'started', 'stopped', 'suspended', 'failed'] as const;
export const TRANSIENT_STATES = [
  'creating',
  'starting',
  'stopping',
  'restarting',
  'suspending',
  'destroying',
  'updating',
  'replacing',
  'launch_failed',
] as const;
export const TERMINAL_STATES = ['destroyed', 'replaced', 'migrated'] as const;

export type MachineState =
  | (typeof PERSISTENT_STATES)[number]
  | (typeof TRANSIENT_STATES)[number]
  | (typeof TERMINAL_STATES)[number];

export function isTerminal(state: MachineState): boolean {
  return (TERMINAL_STATES as readonly string[]).includes(state);
}

/** One entry in a Machine's history, in Fly's `MachineEvent` shape. */
export interface MachineEvent {
  id: string;
  /** What happened: create, launch, start, stop, exit, destroy, restart… */
  type: string;
  /** The state or outcome: created, starting, started, stopping, stopped, destroyed… */
  status: string;
  /** Who caused it: user, flyd (the agent), proxy… */
  source: string;
  /** Milliseconds since the epoch. */
  timestamp: number;
  /** Extra detail, e.g. {exit_event: {exit_code, signal}} for exits. */
  request?: Record<string, unknown>;
}

/** The network addresses a Machine was given on its host. */
export interface MachineAddresses {
  /** 6PN address (fdaa:…), Fly's FLY_PRIVATE_IP. */
  ipv6: string;
  /** Host-local IPv4 address. */
  ipv4: string;
}

/** A Machine as the store holds it. The API renders it in Fly's `Machine` shape. */
export interface Machine {
  id: string;
  name: string;
  appName: string;
  region: string;
  /** The host (agent) it is placed on. */
  hostId: string;
  state: MachineState;
  /** Changes with every config version (create, update). */
  instanceId: string;
  config: MachineConfig;
  /** Resolved image: the digest it was created from. */
  imageRef: { registry: string; repository: string; tag: string; digest: string };
  addresses: MachineAddresses | null;
  /** Set while the Machine is cordoned: the proxy sends it no new traffic. Absent = false. */
  cordoned?: boolean;
  /**
   * The latest status of each of its health checks, written by its host's agent only
   * when one changes; absent until the agent has run checks for it.
   */
  checks?: MachineCheckStatus[];
  /** Monotonic per-machine version of this record; bumps on every write. */
  version: number;
  createdAt: number;
  updatedAt: number;
}

/** An app as the store holds it. */
export interface App {
  id: string;
  name: string;
  orgSlug: string;
  /** The org's 6PN network number (32 bits), used to build addresses. */
  network: number;
  status: 'pending' | 'deployed' | 'suspended';
  createdAt: number;
}
