import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { token as newToken } from '../lib/ids.ts';

/** Where the embedded platform keeps its API token; the CLI reads it from here. */
export function tokenPath(dataDir: string): string {
  return join(dataDir, 'api-token');
}

/** Reads the API token, creating one (mode 0600) on first start. */
export async function ensureToken(dataDir: string): Promise<string> {
  const path = tokenPath(dataDir);
  const existing = (await readFile(path, 'utf8').catch(() => '')).trim();
  if (existing) return existing;
  const fresh = newToken();
  await writeFile(path, `${fresh}\n`, { mode: 0o600, flag: 'wx' }).catch(async (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EEXIST') throw err;
  });
  return (await readFile(path, 'utf8')).trim();
}
