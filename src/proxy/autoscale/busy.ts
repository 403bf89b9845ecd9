import { Client } from 'undici';
import type { RouteEntry } from '../route-entry.ts';

/**
 * Asks a Machine whether it may be stopped: GET `<origin><path>`; 423 (Locked) means
 * it is busy with background work (a job, an upload elsewhere) that the proxy cannot
 * see, so autostop leaves it running. Any other answer, or none within `timeoutMs` (a
 * wedged Machine must not be kept forever), means it may be stopped. Its own
 * connection, closed after: nothing of it stays open to the Machine.
 */
export async function isBusy(entry: RouteEntry, path: string, timeoutMs = 1000): Promise<boolean> {
  const client = new Client(entry.origin, { connect: { timeout: timeoutMs }, headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
  try {
    const response = await client.request({
      path,
      method: 'GET',
      headers: { 'user-agent': 'aloft-proxy-autostop' },
      signal: AbortSignal.timeout(timeoutMs),
    });
    await response.body.dump();
    return response.statusCode === 423;
  } catch {
    return false;
  } finally {
    await client.destroy();
  }
}
