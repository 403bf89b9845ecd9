/** runtime: the Driver interface and the `oci` driver (gVisor runsc or runc). */
export type { Driver, DriverStatus, ExitStatus, RunSpec, SuspendOutcome } from './driver.ts';
export type { ExecRequest, ExecResult, ProcessInfo } from './exec-types.ts';
export { OciDriver, type OciDriverOptions } from './oci-driver.ts';
export { DriverSet } from './driver-set.ts';
export type { RunscNetwork } from './oci-commands.ts';
export { buildOciConfig, writeBundle, DEFAULT_CAPABILITIES, type BundleOptions, type OciConfig, type OciRuntime } from './oci-bundle.ts';
export { placeFiles, resolveInRoot } from './rootfs-files.ts';
export { exitStatusFromCode, signalNumber } from './exit-status.ts';
