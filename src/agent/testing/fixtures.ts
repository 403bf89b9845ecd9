import { randomBytes } from 'node:crypto';
import type { Machine, MachineAddresses, MachineConfig, MachineState } from '../../model/index.ts';
import type { HostNetwork } from '../../net/host-network.ts';
import type { HostInfo } from '../../scheduler/index.ts';
import { openSqliteStore } from '../../store/index.ts';
import type { Store } from '../../store/store.ts';

/** The one host of the agent's unit tests. */
export const TEST_HOST: HostInfo = { id: 'h1', region: 'local', number: 1, ipv4Subnet: '172.19.0.0/16', drivers: ['fake'] };

/** A HostNetwork that only hands out netns paths; the agent's tests need no real network. */
export const fakeNetwork: HostNetwork = {
  ensureBridge: async () => undefined,
  attach: async (id) => ({ netnsPath: `/var/run/netns/test-${id}` }),
  detach: async () => undefined,
  list: async () => [],
};

/** Resolves when the machine is in `state` (now or later), through the store's watch. */
export function reachState(store: Store, id: string, state: MachineState): Promise<Machine> {
  return new Promise((resolve) => {
    const stop = store.watch((c) => {
      if (c.kind === 'machine' && c.op === 'put' && c.key === id && c.machine.state === state) {
        stop();
        resolve(c.machine);
      }
    });
    void store.getMachine(id).then((m) => {
      if (m?.state === state) {
        stop();
        resolve(m);
      }
    });
  });
}

/**
 * A Machine record on TEST_HOST in app "web", in `state`, with `config` over a small
 * default (image "img"). The agent tests insert it with store.createMachine.
 */
export function testMachine(state: MachineState, config: Partial<MachineConfig> = {}, addresses: MachineAddresses = { ipv6: 'fdaa:0:1:0:1:0:1:2', ipv4: '172.19.0.2' }): Machine {
  const now = Date.now();
  const id = randomBytes(7).toString('hex');
  return {
    id,
    name: `m-${id}`,
    appName: 'web',
    region: 'local',
    hostId: TEST_HOST.id,
    state,
    instanceId: 'I1',
    config: { image: 'img', ...config },
    imageRef: { registry: 'local', repository: 'img', tag: 'latest', digest: 'sha256:00' },
    addresses,
    version: 1,
    createdAt: now,
    updatedAt: now,
  };
}

/** For agent tests: an in-memory store holding the app `web` (id a1) that testMachine's Machines belong to. */
export async function openAgentTestStore(): Promise<Store> {
  const store = await openSqliteStore({ path: ':memory:' });
  await store.createApp({ id: 'a1', name: 'web', orgSlug: 'personal', network: 1, status: 'pending', createdAt: Date.now() });
  return store;
}
