/** One line of a Machine's output, as the API serves it. */
export interface MachineLogLine {
  /** When the agent read the line (ISO 8601, milliseconds, UTC). */
  timestamp: string;
  machine_id: string;
  message: string;
  /** Present when the line was longer than the cap and its end was dropped. */
  truncated?: true;
}

/** How to read a Machine's lines: the last `tail` kept (all kept when absent), then, with `follow`, new ones until `signal` aborts. */
export interface LogReadOptions {
  tail?: number;
  follow?: boolean;
  signal?: AbortSignal;
}
