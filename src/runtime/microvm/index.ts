/** runtime/microvm: the `microvm` driver (QEMU `-M microvm`) and its parts. */
export { GUEST_MEMORY_OVERHEAD_MB, MicrovmDriver, type MicrovmDriverOptions } from './microvm-driver.ts';
export type { Accel, Vmm, VmDisk, VmExit, VmHandle, VmSpec } from './vmm.ts';
export { QemuVmm, type QemuVmmOptions } from './qemu-vmm.ts';
export { qemuArgs, QEMU_BINARY } from './qemu-command.ts';
export { QmpClient, type QmpEvent } from './qmp.ts';
export { detectAccel, type AccelOptions, type AccelResult } from './accel.ts';
export { attachTap, detachTap, type GuestNetwork } from './tap.ts';
export { suspendVm, resumeVm, readSnapshot, type SnapshotManifest } from './snapshot.ts';
