import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { createApiApp, listenApi } from '../api/index.ts';
import { ImageStore } from '../image/index.ts';
import { silentLogger, type Logger } from '../lib/log.ts';
import { ensureToken } from '../platform/token.ts';
import { readRttFile } from '../proxy/balance/rtt-file.ts';
import { Scheduler } from '../scheduler/index.ts';
import { ensurePlatformKey, platformKeyPath, SecretVault } from '../secrets/index.ts';
import { openStoreFromUrl } from '../store/open-store.ts';
import type { Store } from '../store/store.ts';
import { RemoteHostControl } from './host-control-client.ts';
import { HostDirectory } from './host-directory.ts';
import { HostMonitor } from './host-monitor.ts';
import { platformRegistryAccess } from './agent-images.ts';

/** What `aloft api` is told. */
export interface ApiProcessSettings {
  /** Its own files: the operator token (`api-token`), the secrets key, pulled images. */
  dataDir: string;
  storeUrl: string;
  host: string;
  port: number;
  /** The agents' heartbeat interval and how many may be missed before a host is down. */
  heartbeatIntervalMs: number;
  missedHeartbeats: number;
  /** A JSON file of region RTTs, for re-placing into the nearest region. */
  rttFile?: string;
  /** The platform's own registry (`aloft registry`): images there are resolved with the operator token. */
  registryUrl?: string;
}

export interface RunningApiProcess {
  url: string;
  port: number;
  token: string;
  store: Store;
  monitor: HostMonitor;
  stop(): Promise<void>;
}

/**
 * A stateless API process of a cluster (`aloft api`; run any number): the Machines API
 * on the shared store, placing on the hosts the registry says are up, reaching hosts
 * for exec, ps, signals and logs over their agents' RPC, and running the HostMonitor
 * (one API process at a time acts; see host-monitor.ts).
 */
export async function startApiProcess(settings: ApiProcessSettings, log: Logger = silentLogger): Promise<RunningApiProcess> {
  await mkdir(settings.dataDir, { recursive: true, mode: 0o700 });
  const cleanups: (() => Promise<unknown>)[] = [];
  const unwind = async (): Promise<void> => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch((err: unknown) => log.warn({ err }, 'cleanup failed'));
  };
  try {
    const rtt = settings.rttFile === undefined ? {} : await readRttFile(settings.rttFile, 'start the API');
    const token = await ensureToken(settings.dataDir);
    const secretsKey = await ensurePlatformKey(platformKeyPath(settings.dataDir));
    const store = await openStoreFromUrl(settings.storeUrl, { logger: log });
    cleanups.push(() => store.close());
    const directory = new HostDirectory(store, { log });
    await directory.start();
    cleanups.push(() => Promise.resolve(directory.stop()));
    const scheduler = new Scheduler(directory, { capacity: directory.capacity });
    const registry = settings.registryUrl === undefined ? undefined : platformRegistryAccess(settings.registryUrl, token, 'start the API');
    const images = new ImageStore(join(settings.dataDir, 'images'), { log, ...registry?.imageStoreOptions });
    const hostControl = new RemoteHostControl({ hosts: store, token });
    const api = await listenApi(createApiApp({ store, images, scheduler, token, log, hostControl, secretVault: new SecretVault(store, secretsKey) }), { host: settings.host, port: settings.port });
    cleanups.push(() => api.close());
    const monitor = new HostMonitor({ store, scheduler, heartbeatIntervalMs: settings.heartbeatIntervalMs, missedHeartbeats: settings.missedHeartbeats, rtt, log });
    monitor.start();
    cleanups.push(() => monitor.stop());
    let stopped = false;
    return {
      url: `http://${settings.host.includes(':') ? `[${settings.host}]` : settings.host}:${api.port}`,
      port: api.port,
      token,
      store,
      monitor,
      async stop() {
        if (stopped) return;
        stopped = true;
        await unwind();
      },
    };
  } catch (err) {
    await unwind();
    throw err;
  }
}
