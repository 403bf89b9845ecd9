import type { ExecRequest, ExecResult, ProcessInfo } from './exec-types.ts';

/**
 * The runtime Driver: how a host runs one Machine's process tree in isolation.
 * Implementations: `oci` (gVisor runsc, or runc) now; `microvm` (QEMU) next. Every
 * implementation runs the contract suite in contract.ts.
 *
 * The agent owns state and ordering; a driver only does what it is told and answers
 * truthfully about what is running. Machines outlive the agent process: after an
 * agent restart, `status` and `wait` work for Machines started by an earlier agent.
 */
export interface Driver {
  /** e.g. "runsc", "runc". */
  readonly name: string;
  /** Throws RUNTIME_MISSING when the runtime binary is not installed. */
  check(): Promise<void>;
  /** Creates and starts the machine's sandbox; resolves once its process runs. */
  start(spec: RunSpec): Promise<void>;
  /** Resolves when the machine's main process has exited (works for adopted ones). */
  wait(machineId: string): Promise<ExitStatus>;
  /** Sends a signal to the machine's main process. */
  signal(machineId: string, signal: string): Promise<void>;
  /**
   * Sends `signal`, waits up to `timeoutMs` for the exit, then SIGKILL. Resolves with
   * how it exited. Stopping a machine that is not running resolves at once.
   */
  stop(machineId: string, options: { signal: string; timeoutMs: number }): Promise<ExitStatus>;
  /** What the runtime knows of this machine right now. */
  status(machineId: string): Promise<DriverStatus>;
  /** Frees the sandbox's runtime state (after stop). Idempotent. */
  remove(machineId: string): Promise<void>;
  /** Ids of every machine this driver has state for (running or stopped). */
  list(): Promise<string[]>;
  /**
   * Freezes every process of a running machine in place (Fly's suspend, done as a
   * freeze: memory stays, nothing runs). `status` then answers 'paused'.
   */
  pause(machineId: string): Promise<void>;
  /** Thaws a paused machine; it runs on where it stopped. */
  resume(machineId: string): Promise<void>;
  /**
   * Runs a command beside the main process (same root, user, env and netns). Throws
   * EXEC_TIMEOUT past `timeoutMs`; a non-zero exit is a result, not an error.
   */
  exec(machineId: string, request: ExecRequest): Promise<ExecResult>;
  /** The machine's processes, main one first where the runtime orders them so. */
  ps(machineId: string): Promise<ProcessInfo[]>;
  /**
   * Optional: suspends a running machine, saving its memory to disk where the runtime
   * can and it is safe (status then answers 'suspended' and nothing of it runs), else
   * freezing it in place as `pause` does. Says which happened, and why it fell back, so
   * the agent can record it. Drivers without it are suspended with `pause`.
   */
  suspend?(machineId: string): Promise<SuspendOutcome>;
  /** Optional, with `suspend`: brings a 'suspended' machine back from its saved image. */
  restoreFromSuspend?(machineId: string): Promise<void>;
}

/** What `Driver.suspend` did. */
export type SuspendOutcome =
  /** Memory saved to an image and the sandbox gone; `restoreFromSuspend` brings it back. */
  | { how: 'checkpointed'; ms: number }
  /** Frozen in place (as `pause`), because a checkpoint was not possible or not safe. */
  | { how: 'paused'; reason: string };

/**
 * A machine as its runtime sees it; 'paused' after `pause` until `resume`;
 * 'suspended' after a `suspend` that checkpointed, until `restoreFromSuspend`.
 */
export type DriverStatus = 'running' | 'paused' | 'suspended' | 'stopped' | 'absent';

export interface ExitStatus {
  exitCode: number | null;
  /** Set when the process was killed by a signal, e.g. "SIGKILL". */
  signal: string | null;
  /** True when `stop` had to escalate to SIGKILL. */
  killed?: boolean;
  /** True when the kernel's OOM killer ended it (the memory limit was hit); absent otherwise. */
  oomKilled?: boolean;
  /**
   * Why it ended, where the process's own status does not say it: e.g. the microvm
   * driver's VMM crashed or was killed. Absent for an ordinary exit.
   */
  reason?: string;
}

/** Everything a driver needs to run one Machine. Built by the agent. */
export interface RunSpec {
  machineId: string;
  /**
   * Which of the host's drivers runs it (`config.guest.driver`: "oci" or "microvm");
   * absent = the host's default. Only a DriverSet reads it.
   */
  driver?: string;
  /** Absolute path to this machine's own writable root filesystem (no symlinks). */
  rootfs: string;
  /**
   * The image's root as a read-only ext4 image shared by every Machine of the image
   * (ImageStore.ext4Image). A driver that boots a disk copies it rather than building
   * one from `rootfs`, and never writes to it.
   */
  rootDisk?: string;
  /** Per-machine scratch dir the driver may use (bundle, logs, sockets). */
  workDir: string;
  hostname: string;
  process: {
    args: string[];
    /** The whole environment, image env and machine env merged (machine wins). */
    env: Record<string, string>;
    cwd: string;
    uid: number;
    gid: number;
    additionalGids: number[];
  };
  limits: { cpus: number; memoryMb: number; pids?: number };
  /** Path of the network namespace to join (e.g. /var/run/netns/aloft-<id>); null = none. */
  netnsPath: string | null;
  /** Files the driver must place in the root (e.g. /etc/hosts, /etc/resolv.conf). */
  files: { path: string; content: string }[];
  /** File that receives the process's stdout and stderr. */
  logPath: string;
  /** Host directories (loop-mounted volumes) bind-mounted into the Machine. */
  mounts?: VolumeMount[];
}

/** A host directory bind-mounted read-write into the Machine at `destination` (a volume). */
export interface VolumeMount {
  /** Absolute host path (the volume's loop mount). */
  source: string;
  /** Absolute path inside the Machine (`config.mounts[].path`). */
  destination: string;
}
