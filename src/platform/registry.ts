import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { registryAccess } from '../api/index.ts';
import { createRegistry, type RunningRegistry } from '../image/registry/index.ts';
import { silentLogger, type Logger } from '../lib/log.ts';
import { openStoreFromUrl } from '../store/open-store.ts';
import type { AuthStore } from '../store/auth-store.ts';
import { acquireLock } from './lock.ts';
import { ensureToken } from './token.ts';

/** Where the platform's registry keeps its blobs, manifests and tags. */
export function registryDir(dataDir: string): string {
  return join(dataDir, 'registry');
}

/**
 * Starts the image registry of a data dir behind the API's tokens (registryAccess).
 * Rejects with ALREADY_RUNNING when the port is taken.
 */
export async function startPlatformRegistry(options: {
  dataDir: string;
  host: string;
  port: number;
  operatorToken: string;
  store: AuthStore;
  log?: Logger;
}): Promise<RunningRegistry & { url: string }> {
  const log = options.log ?? silentLogger;
  const registry = createRegistry({ dir: registryDir(options.dataDir), log, ...registryAccess({ operatorToken: options.operatorToken, store: options.store }) });
  const running = await registry.listen({ host: options.host, port: options.port });
  return { ...running, url: `http://${options.host}:${running.port}` };
}

/**
 * `aloft registry`: the registry of a data dir on its own, with the data dir's tokens.
 * It takes the data dir's lock, as `aloft up` does, since both would write the same
 * registry folder and store; run one or the other. In cluster mode `storeUrl` names the
 * cluster's store (org tokens minted through any `aloft api`) and `operatorToken` is the
 * API's, so agents pull with the token they already hold.
 */
export async function startStandaloneRegistry(options: {
  dataDir: string;
  host: string;
  port: number;
  /** A `--store` URL (`sqlite:/path`, `etcd://h:p,…[/prefix]`); default: the data dir's aloft.db. */
  storeUrl?: string;
  /** The operator token; default: the data dir's `api-token` (made on first start). */
  operatorToken?: string;
  log?: Logger;
}): Promise<{ url: string; stop(): Promise<void> }> {
  await mkdir(options.dataDir, { recursive: true, mode: 0o700 });
  const lock = await acquireLock(options.dataDir);
  const cleanups: (() => Promise<void>)[] = [() => lock.release()];
  const unwind = async (): Promise<void> => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
  };
  try {
    const operatorToken = options.operatorToken ?? (await ensureToken(options.dataDir));
    const store = await openStoreFromUrl(options.storeUrl ?? `sqlite:${join(options.dataDir, 'aloft.db')}`, { logger: options.log ?? silentLogger });
    cleanups.push(() => store.close());
    const registry = await startPlatformRegistry({ dataDir: options.dataDir, host: options.host, port: options.port, operatorToken, store, ...(options.log === undefined ? {} : { log: options.log }) });
    cleanups.push(() => registry.close());
    return { url: registry.url, stop: unwind };
  } catch (err) {
    await unwind();
    throw err;
  }
}
