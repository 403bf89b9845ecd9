import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { invalidField } from '../lib/errors.ts';
import { silentLogger, type Logger } from '../lib/log.ts';
import { validateRttTable, type RegionRttTable } from '../proxy/balance/region-rtt.ts';
import { openStoreFromUrl } from '../store/open-store.ts';
import { startDnsServer, type RunningDnsServer } from './server.ts';
import type { Upstream } from './upstream.ts';

export interface StandaloneDnsOptions {
  /** The data dir whose store (`aloft.db`) holds the apps and Machines, unless `storeUrl`. */
  dataDir: string;
  /** A `--store` URL (`sqlite:/path`, `etcd://h:p,…[/prefix]`) read instead of the data dir's. */
  storeUrl?: string;
  host: string;
  port: number;
  region: string;
  /** undefined: from /etc/resolv.conf; null: no forwarding. */
  upstream?: Upstream | null;
  /** A JSON file of region RTTs (`{ "ams": { "iad": 80 } }`), as the proxy takes. */
  rttFile?: string;
  log?: Logger;
}

/**
 * `aloft dns`: the DNS server of a data dir on its own. It only reads the store, so it
 * runs beside `aloft up` (SQLite's WAL lets another process read while it writes; the
 * store's watch sees that process's commits within its 50 ms poll) and takes no lock.
 */
export async function startStandaloneDns(options: StandaloneDnsOptions): Promise<RunningDnsServer> {
  const rtt = options.rttFile === undefined ? undefined : await readRtt(options.rttFile);
  const store = await openStoreFromUrl(options.storeUrl ?? `sqlite:${join(options.dataDir, 'aloft.db')}`, { logger: options.log ?? silentLogger });
  try {
    const server = await startDnsServer({
      store,
      host: options.host,
      port: options.port,
      region: options.region,
      ...(rtt === undefined ? {} : { rtt }),
      ...(options.upstream === undefined ? {} : { upstream: options.upstream }),
      ...(options.log === undefined ? {} : { log: options.log }),
    });
    return {
      ...server,
      close: async () => {
        await server.close();
        await store.close();
      },
    };
  } catch (err) {
    await store.close();
    throw err;
  }
}

async function readRtt(path: string): Promise<RegionRttTable> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw invalidField('start DNS', 'rtt', 'a readable JSON file', `${path} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw invalidField('start DNS', 'rtt', 'a JSON file such as {"ams": {"iad": 80}}', path);
  }
  return validateRttTable(parsed);
}
