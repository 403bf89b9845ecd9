import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { delimiter, isAbsolute, join } from 'node:path';
import { AloftError } from '../../lib/errors.ts';

/**
 * The absolute path of `name` on PATH (or `name` itself when absolute and executable);
 * WIREGUARD_FAILED naming the Debian package when it is not installed, so a host without
 * wireguard-go fails at start with a fix instead of with an exit code later.
 */
export async function findWireguardGo(name = 'wireguard-go', path = process.env['PATH'] ?? ''): Promise<string> {
  const candidates = isAbsolute(name) ? [name] : path.split(delimiter).filter((dir) => dir !== '').map((dir) => join(dir, name));
  for (const candidate of candidates) {
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here; try the next directory
    }
  }
  throw new AloftError('WIREGUARD_FAILED', `Cannot start the private network as '${name}' must be installed (Debian: apt-get install wireguard-go): not found on PATH`, {
    details: { binary: name },
  });
}
