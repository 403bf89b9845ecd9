// Shared by the build tests: the aloft registry behind the API's real token check (an
// in-memory store and an operator token), seeded with the busybox base image. Not part
// of the public face.
import { existsSync } from 'node:fs';
import { registryAccess } from '../../api/index.ts';
import { openSqliteStore, type Store } from '../../store/index.ts';
import { startTestRegistry, type TestRegistry } from '../registry/test-fixture.ts';
import type { RegistryTarget } from './registry-target.ts';

export const OPERATOR_TOKEN = 'build-test-operator-token';

/** Why buildah tests skip, or false when they can run. */
export const SKIP_WITHOUT_BUILDAH = ['/usr/bin/buildah', '/usr/local/bin/buildah'].some((p) => existsSync(p))
  ? process.getuid?.() === 0
    ? false
    : 'buildah tests need root (chroot isolation, vfs storage owned by root)'
  : 'buildah is not installed (apt-get install buildah)';

/** A registry with the platform's token rules, and the target builds use. */
export interface AuthRegistry {
  reg: TestRegistry;
  store: Store;
  target: RegistryTarget;
  close(): Promise<void>;
}

export async function startAuthRegistry(): Promise<AuthRegistry> {
  const store = await openSqliteStore({ path: ':memory:' });
  const access = registryAccess({ operatorToken: OPERATOR_TOKEN, store });
  const reg = await startTestRegistry(access.authorize, { filterCatalog: access.filterCatalog });
  return {
    reg,
    store,
    target: { url: reg.base, token: OPERATOR_TOKEN },
    close: async () => {
      await reg.close();
      await store.close();
    },
  };
}
