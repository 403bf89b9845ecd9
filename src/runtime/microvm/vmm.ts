/**
 * The seam between the `microvm` driver and a virtual machine monitor. QEMU (`-M
 * microvm`) implements it now; Firecracker or Cloud Hypervisor can implement it later
 * with the same kernel, initramfs, ext4 disks and tap, because a {@link VmSpec} names
 * only those, never a QEMU option.
 */

/** Which accelerator runs the guest: hardware KVM, or QEMU's software emulator. */
export type Accel = 'kvm' | 'tcg';

/** A block device of the guest, in order: the first is /dev/vda, the next /dev/vdb… */
export interface VmDisk {
  /** Raw image file (ext4 for the root filesystem). */
  path: string;
  readOnly?: boolean;
  /** The disk's virtio-blk serial, which the guest finds it by (`root` for the image root). */
  serial?: string;
}

/** Everything a VMM needs to boot one guest. Paths are absolute. */
export interface VmSpec {
  /** Uncompressed PVH vmlinux. */
  kernel: string;
  /** Initramfs (cpio, optionally compressed). */
  initrd?: string;
  /** Kernel command line. */
  cmdline: string;
  disks: VmDisk[];
  /** The guest's NIC: a tap device (already created in the netns the VMM runs in) and its MAC. */
  net?: { tap: string; mac: string };
  /** The host↔guest channel: a virtio-serial port served on a unix socket the host connects to. */
  channel?: { socketPath: string; name: string };
  /** Where the serial console goes: appended to a file. */
  consoleLog: string;
  /** The VMM's control socket (QMP for QEMU). */
  controlSocket: string;
  memoryMb: number;
  cpus: number;
  accel: Accel;
  /** Network namespace to run the VMM in (its tap lives there); null = the caller's. */
  netnsPath?: string | null;
  /** Start with the CPUs stopped (QEMU `-S`): for probes and restores. */
  paused?: boolean;
  /** Restore from a saved state instead of booting: a QEMU migration URI such as `exec:zstd -dc FILE`. */
  incoming?: string;
}

/** A running (or exited) VM as its supervisor recorded it; survives the agent. */
export interface VmHandle {
  /** The VMM process's pid. */
  pid: number;
  /** Where the handle's files live (pid, exit code, sockets). */
  stateDir: string;
  controlSocket: string;
  channelSocket: string | null;
  consoleLog: string;
}

/** How a VMM process ended: its own exit code, or the signal that killed it. */
export interface VmExit {
  exitCode: number | null;
  signal: string | null;
}

/** A virtual machine monitor. Each method acts on one VM by its handle. */
export interface Vmm {
  readonly name: string;
  /** Throws RUNTIME_MISSING when the VMM binary is not installed. */
  check(): Promise<void>;
  /**
   * Starts the VMM for `spec` under a supervisor that outlives the caller and records
   * the exit code in `stateDir`; resolves once the control socket answers.
   */
  boot(spec: VmSpec, stateDir: string): Promise<VmHandle>;
  /** Re-reads a handle from `stateDir` (after an agent restart); null when none. */
  adopt(stateDir: string): Promise<VmHandle | null>;
  /** True while the VMM process lives. */
  isAlive(handle: VmHandle): Promise<boolean>;
  /** Stops the guest's CPUs (memory stays). */
  pause(handle: VmHandle): Promise<void>;
  /** Runs the guest's CPUs again. */
  resume(handle: VmHandle): Promise<void>;
  /** 'running', 'paused' (CPUs stopped, incl. waiting for an incoming state), or 'exited'. */
  state(handle: VmHandle): Promise<'running' | 'paused' | 'exited'>;
  /** Saves the paused guest's devices and memory to `file` (compressed); the VM stays paused. */
  snapshot(handle: VmHandle, file: string): Promise<void>;
  /** Asks the VMM to exit at once (the guest gets no warning), then waits for it. */
  quit(handle: VmHandle, timeoutMs: number): Promise<VmExit>;
  /** SIGKILLs the VMM and waits for the supervisor to record it. */
  kill(handle: VmHandle): Promise<VmExit>;
  /** Resolves when the VMM has exited (works for adopted handles). */
  wait(handle: VmHandle, signal?: AbortSignal): Promise<VmExit>;
}
