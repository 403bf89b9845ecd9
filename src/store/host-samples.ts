import type { HostRegistration } from './host-store.ts';

let counter = 0;

/** For tests: a valid host registration with a unique id and 6PN number; `overrides` wins. */
export function sampleHostRegistration(overrides: Partial<HostRegistration> = {}): HostRegistration {
  counter += 1;
  const number = 100 + counter;
  return {
    id: `host-${counter}`,
    region: 'ams',
    number,
    ipv4Subnet: '172.19.0.0/16',
    capacity: { cpus: 8, memoryMb: 16_384, diskGb: 100, gpus: [] },
    drivers: ['runsc'],
    wireguardPublicKey: null,
    addresses: { underlay: null, sixpnPrefix: `fdaa:0:0:${number.toString(16)}::/80` },
    controlUrl: null,
    ...overrides,
  };
}
