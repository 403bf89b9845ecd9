import { isAbsolute } from 'node:path';
import { invalidField } from '../lib/errors.ts';
import type { Logger } from '../lib/log.ts';
import { openSqliteStore } from './sqlite/open-sqlite-store.ts';
import type { Store } from './store.ts';

/**
 * Opens the store a `--store` URL names, for the processes of cluster mode (`aloft api`,
 * `aloft agent`…):
 * - `sqlite:/abs/path/aloft.db`: a SQLite file; several processes on one machine share
 *   it (WAL; each one's watch polls the change log, so it sees the others' writes);
 * - `etcd://host:port[,host:port…][/prefix]`: the etcd store (loaded only then: its gRPC
 *   client is not something every CLI start should pay for). The prefix defaults to `/aloft/`.
 */
export async function openStoreFromUrl(url: string, options: { logger?: Logger } = {}): Promise<Store> {
  if (url.startsWith('sqlite:')) {
    const path = decodeURIComponent(url.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, ''));
    if (!isAbsolute(path)) throw invalidField('open the store', 'store', 'sqlite: followed by an absolute path, e.g. "sqlite:/var/lib/aloft/aloft.db"', url);
    return openSqliteStore({ path, ...(options.logger ? { logger: options.logger } : {}) });
  }
  if (url.startsWith('etcd://')) {
    const rest = url.slice('etcd://'.length);
    const slash = rest.indexOf('/');
    const hosts = (slash < 0 ? rest : rest.slice(0, slash)).split(',').filter(Boolean);
    const prefix = slash < 0 ? undefined : `${rest.slice(slash)}${rest.endsWith('/') ? '' : '/'}`;
    if (hosts.length === 0 || hosts.some((h) => !/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):\d{1,5}$/.test(h))) {
      throw invalidField('open the store', 'store', 'etcd:// followed by host:port pairs separated by commas, e.g. "etcd://10.0.0.1:2379,10.0.0.2:2379"', url);
    }
    const { openEtcdStore } = await import('./etcd/index.ts');
    return openEtcdStore({
      endpoints: hosts.map((h) => `http://${h}`),
      ...(prefix === undefined ? {} : { prefix }),
      ...(options.logger ? { logger: options.logger } : {}),
    });
  }
  throw invalidField('open the store', 'store', 'a URL "sqlite:/abs/path/aloft.db" or "etcd://host:port[,host:port…]"', url);
}
