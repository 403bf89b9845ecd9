/**
 * What runs inside a microVM and how the host prepares and talks to it: the guest
 * kernel, the guest init (PID 1), the initramfs, the run config and the channel protocol.
 */
export { ensureGuestKernel, resolveKernelPackage, KERNEL_METAPACKAGE, type GuestKernel, type GuestKernelOptions } from './kernel.ts';
export { buildGuestInit, GUEST_INIT_SOURCE } from './init-binary.ts';
export { buildInitramfs, writeMachineInitrd, GUEST_BUSYBOX } from './initramfs.ts';
export { encodeRunConfig, runConfigCpio, RUN_CONFIG_PATH, type RunConfig, type GuestMount, type GuestRoute } from './run-config.ts';
export {
  decodeGuestMessage,
  encodeHostMessage,
  LineSplitter,
  GUEST_PORT_NAME,
  GUEST_PROTOCOL_VERSION,
  type GuestExecRequest,
  type GuestMessage,
  type HostMessage,
} from './protocol.ts';
export { GUEST_KERNEL_APPEND, guestKernelAppend, hostTscKhz } from './kernel-cmdline.ts';
