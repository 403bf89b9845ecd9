import { readFile } from 'node:fs/promises';
import { AloftError } from '../lib/errors.ts';

/**
 * Reads the operator token from a `--token-file` (the API's `<data-dir>/api-token`), for
 * the processes of a cluster that present it (`aloft agent`) or accept it (`aloft registry`).
 * `action` is what could not be done, for the message: "start the agent".
 */
export async function readTokenFile(path: string, action: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'which does not exist' : `which cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)})`;
    throw new AloftError('INVALID_ARGUMENT', `Cannot ${action} as 'token-file' must name a file holding the operator token (the API's <data-dir>/api-token): got ${path}, ${why}`);
  }
  const token = text.trim();
  if (token === '') throw new AloftError('INVALID_ARGUMENT', `Cannot ${action} as 'token-file' must hold the operator token: got an empty file ${path}`);
  return token;
}
