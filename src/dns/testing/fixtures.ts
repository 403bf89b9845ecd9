import { randomInt } from 'node:crypto';
import { execCommand, mustRun } from '../../lib/command.ts';
import type { Machine, MachineState } from '../../model/index.ts';
import { machineIpv6 } from '../../net/sixpn.ts';
import type { Store } from '../../store/store.ts';
import { sampleMachine } from '../../store/testing.ts';

/**
 * Two orgs for DNS tests, each on its own 6PN network: "acme" (apps web, api) and
 * "other" (app secret). Network numbers are random in a high range so that tests that
 * put addresses on loopback cannot meet a real platform's (which count up from 1).
 */
export interface TwoOrgs {
  acme: number;
  other: number;
}

export async function seedTwoOrgs(store: Store): Promise<TwoOrgs> {
  const base = 0xf000_0000 + randomInt(0x0800_0000) * 2;
  const nets: TwoOrgs = { acme: base, other: base + 1 };
  const now = Date.now();
  for (const slug of ['acme', 'other']) await store.createOrg({ slug, name: slug, createdAt: now });
  await store.createApp({ id: 'a-web', name: 'web', orgSlug: 'acme', network: nets.acme, status: 'deployed', createdAt: now });
  await store.createApp({ id: 'a-api', name: 'api', orgSlug: 'acme', network: nets.acme, status: 'deployed', createdAt: now });
  await store.createApp({ id: 'a-secret', name: 'secret', orgSlug: 'other', network: nets.other, status: 'deployed', createdAt: now });
  return nets;
}

let machineNumber = 0;

/** A Machine of `appName` on 6PN network `network`, host `host`, in `region` and `state`. */
export function dnsMachine(appName: string, network: number, options: { region?: string; host?: number; state?: MachineState; group?: string; id?: string } = {}): Machine {
  machineNumber += 1;
  return sampleMachine({
    ...(options.id === undefined ? {} : { id: options.id }),
    appName,
    region: options.region ?? 'ams',
    hostId: `host-${options.host ?? 1}`,
    state: options.state ?? 'started',
    addresses: { ipv6: machineIpv6(network, options.host ?? 1, machineNumber), ipv4: '172.19.0.2' },
    config: { image: 'img', ...(options.group === undefined ? {} : { metadata: { fly_process_group: options.group } }) },
  });
}

/**
 * Puts `address` on the loopback interface for the length of a test, so a client can
 * send queries from a 6PN source as a Machine would (needs root). Returns the removal.
 */
export async function addLoopbackAddress(address: string): Promise<() => Promise<void>> {
  const options = { timeoutMs: 5000, errorCode: 'NETWORK_FAILED' } as const;
  await mustRun(execCommand, 'ip', ['-6', 'addr', 'add', `${address}/128`, 'dev', 'lo', 'nodad'], options);
  return async () => {
    await mustRun(execCommand, 'ip', ['-6', 'addr', 'del', `${address}/128`, 'dev', 'lo'], options);
  };
}
