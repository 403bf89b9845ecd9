import { describe } from 'node:test';
import type { Store } from './store.ts';
import { appsContract } from './contract/apps.ts';
import { authContract } from './contract/auth.ts';
import { eventsAndMetaContract } from './contract/events-meta.ts';
import { leasesContract } from './contract/leases.ts';
import { releasesContract } from './contract/releases.ts';
import { secretsContract } from './contract/secrets.ts';
import { machinesContract } from './contract/machines.ts';
import { machineChecksContract } from './contract/machine-checks.ts';
import { versionsContract } from './contract/versions.ts';
import { volumesContract } from './contract/volumes.ts';
import { watchContract } from './contract/watch.ts';
import { hostsContract } from './contract/hosts.ts';
import { peersContract } from './contract/peers.ts';

/**
 * Registers the Store contract as node:test tests under `name`. Every Store
 * implementation runs it; it speaks only through the interface. `open` must return a
 * fresh, empty store each time (the suite closes it after each test). Revisions are
 * compared only relative to each other, so a store whose revisions do not start at 0
 * (etcd) passes too.
 */
export function runStoreContract(name: string, open: () => Promise<Store>): void {
  describe(`Store contract: ${name}`, () => {
    appsContract(open);
    machinesContract(open);
    machineChecksContract(open);
    eventsAndMetaContract(open);
    watchContract(open);
    volumesContract(open);
    leasesContract(open);
    releasesContract(open);
    secretsContract(open);
    authContract(open);
    versionsContract(open);
    hostsContract(open);
    peersContract(open);
  });
}
