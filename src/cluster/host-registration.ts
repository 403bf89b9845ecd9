import { readdir } from 'node:fs/promises';
import { formatIpv6, SIXPN_ONLINK_PREFIX } from '../net/sixpn.ts';
import { localCapacity, type HostInfo } from '../scheduler/index.ts';
import type { HostRegistration } from '../store/host-store.ts';

/**
 * What this host tells the registry: its measured capacity, GPUs, drivers, keys and
 * addresses. `underlay` is the `address:port` other hosts dial its WireGuard mesh at
 * (null: none, so no host peers with it — the embedded platform's single host).
 */
export async function hostRegistration(dataDir: string, host: HostInfo, wireguardPublicKey: string | null, controlUrl: string | null, underlay: string | null = null): Promise<HostRegistration> {
  const totals = await localCapacity(dataDir).totals(host);
  const gpus = (await readdir('/dev').catch(() => [] as string[]))
    .map((name) => /^nvidia(\d+)$/.exec(name)?.[1])
    .filter((n): n is string => n !== undefined)
    .map((n) => ({ index: Number(n) }))
    .sort((a, b) => a.index - b.index);
  return {
    id: host.id,
    region: host.region,
    number: host.number,
    ipv4Subnet: host.ipv4Subnet,
    capacity: {
      cpus: totals.resources.cpus,
      memoryMb: totals.resources.memoryMb,
      diskGb: totals.resources.diskGb,
      ...(totals.diskAvailableGb === undefined ? {} : { diskAvailableGb: totals.diskAvailableGb }),
      gpus,
    },
    drivers: host.drivers,
    wireguardPublicKey,
    addresses: { underlay, sixpnPrefix: hostPrefix(host.number) },
    controlUrl,
  };
}

/** The host's own 6PN prefix in network 0 (the platform's): `fdaa:0:0:<host>::/80`. */
export function hostPrefix(hostNumber: number): string {
  return `${formatIpv6([0xfdaa, 0, 0, Math.floor(hostNumber / 0x10000), hostNumber % 0x10000, 0, 0, 0])}/${SIXPN_ONLINK_PREFIX}`;
}
