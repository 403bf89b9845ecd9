import type { MachineAddresses } from '../model/index.ts';

/**
 * A host's machine networking: one bridge per host in the root network namespace,
 * one network namespace per Machine joined to it by a veth pair. The Machine side
 * (`eth0`) holds the Machine's 6PN IPv6 and host-local IPv4 addresses; the bridge holds
 * the gateways. The proxy reaches Machines at those addresses.
 */
export interface HostNetwork {
  /** Creates the bridge and its gateway addresses if missing. Idempotent. */
  ensureBridge(): Promise<void>;
  /** Creates (or re-uses) the machine's netns, veth pair and addresses. Idempotent. */
  attach(machineId: string, addresses: MachineAddresses): Promise<{ netnsPath: string }>;
  /** Removes the machine's netns and veth pair. Idempotent. */
  detach(machineId: string): Promise<void>;
  /** Machine ids that have a netns on this host (for reconciling after restarts). */
  list(): Promise<string[]>;
}
