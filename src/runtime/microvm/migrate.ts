import { rename, rm } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';
import { AloftError } from '../../lib/errors.ts';
import type { QmpClient } from './qmp.ts';

/** How a saved state is compressed: zstd -1 makes a 256 MB guest ~15 MB (HOST.md). */
const COMPRESS = 'zstd -1 -q -c';
const DECOMPRESS = 'zstd -d -q -c';
const POLL_MS = 10;

/** Quotes a path for the `sh -c` that QEMU's `exec:` migration runs. */
export function shellQuote(path: string): string {
  return `'${path.replaceAll("'", `'\\''`)}'`;
}

/** The `-incoming` URI that restores a state saved by {@link saveState} in `file`. */
export function incomingUri(file: string): string {
  return `exec:${DECOMPRESS} ${shellQuote(file)}`;
}

/**
 * Saves a guest's devices and memory to `file`, compressed: QMP `stop` (the guest must
 * not change while it is copied), `migrate` to `exec:zstd … > file.tmp`, poll
 * `query-migrate` until completed, then rename into place, so a failed save leaves no
 * file that looks whole. The VM stays paused; the caller quits it (or `cont`s).
 */
export async function saveState(qmp: QmpClient, file: string, timeoutMs = 120_000): Promise<{ bytes: number; ms: number }> {
  const started = Date.now();
  const temp = `${file}.tmp`;
  await rm(temp, { force: true });
  await qmp.execute('stop');
  // QEMU caps migration at 32 MiB/s by default; a local file needs no cap.
  await qmp.execute('migrate-set-parameters', { 'max-bandwidth': 64 * 1024 ** 3 });
  await qmp.execute('migrate', { uri: `exec:${COMPRESS} > ${shellQuote(temp)}` });
  for (;;) {
    const info = await qmp.execute<{ status?: string; 'error-desc'?: string; ram?: { transferred?: number } }>('query-migrate');
    if (info.status === 'completed') {
      await rename(temp, file);
      return { bytes: info.ram?.transferred ?? 0, ms: Date.now() - started };
    }
    if (info.status === 'failed' || info.status === 'cancelled') {
      await rm(temp, { force: true });
      throw new AloftError('VMM_FAILED', `Cannot save VM state to ${file} as the migration ${info.status}: ${info['error-desc'] ?? 'no reason given'}`);
    }
    if (Date.now() - started > timeoutMs) {
      await qmp.execute('migrate_cancel').catch(() => undefined);
      await rm(temp, { force: true });
      throw new AloftError('VMM_FAILED', `Cannot save VM state to ${file} as it must finish within ${timeoutMs} ms: got status ${info.status ?? 'unknown'}`);
    }
    await delay(POLL_MS);
  }
}

/**
 * Waits until an `-incoming` QEMU has loaded its state (status leaves 'inmigrate'),
 * then `cont`. Fails when the load failed.
 */
export async function finishRestore(qmp: QmpClient, timeoutMs = 120_000): Promise<void> {
  const started = Date.now();
  for (;;) {
    const status = await qmp.execute<{ status: string; running: boolean }>('query-status');
    if (status.status !== 'inmigrate') break;
    if (Date.now() - started > timeoutMs) {
      throw new AloftError('VMM_FAILED', `Cannot restore VM as its state must load within ${timeoutMs} ms: still loading`);
    }
    await delay(POLL_MS);
  }
  const migrate = await qmp.execute<{ status?: string; 'error-desc'?: string }>('query-migrate');
  if (migrate.status === 'failed') {
    throw new AloftError('VMM_FAILED', `Cannot restore VM as loading its state failed: ${migrate['error-desc'] ?? 'no reason given'}`);
  }
  await qmp.execute('cont');
}
