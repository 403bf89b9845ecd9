import type { Store } from '../store/store.ts';
import type { MachineAddresses } from '../model/index.ts';
import { machineIpv6 } from '../net/sixpn.ts';
import { machineIpv4, parseIpv4Subnet } from '../net/ipv4-subnet.ts';
import type { HostInfo } from './scheduler.ts';

/**
 * Gives a new Machine its addresses on `host`: the next machine number from a per-host
 * counter in the store (atomic, never handed out twice, so an address is never reused
 * while a Machine might hold it), laid out as 6PN for the org's network.
 */
export async function allocateAddresses(store: Store, host: HostInfo, orgNetwork: number): Promise<MachineAddresses> {
  const n = await store.nextSequence(`host:${host.id}:machine-number`);
  return { ipv6: machineIpv6(orgNetwork, host.number, n), ipv4: machineIpv4(parseIpv4Subnet(host.ipv4Subnet), n) };
}
