import { randomBytes } from 'node:crypto';
import { link, lstat, open, readFile, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { AloftError } from '../lib/errors.ts';
import { shortId } from '../lib/ids.ts';
import { KEY_BYTES } from './envelope.ts';

/** Where the embedded platform keeps its secrets key. */
export function platformKeyPath(dataDir: string): string {
  return join(dataDir, 'secrets.key');
}

/**
 * Reads the platform's 32-byte secrets key, creating it (mode 0600) when the file does
 * not exist. An existing file is never replaced: it is checked instead (readPlatformKey),
 * because a new key would orphan every secret sealed under the old one.
 */
export async function ensurePlatformKey(path: string): Promise<Buffer> {
  const exists = await lstat(path).then(
    () => true,
    (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return false;
      throw keyError(path, 'readable', `an error (${err.code ?? err.message})`);
    },
  );
  if (!exists) await createKeyFile(path);
  return readPlatformKey(path);
}

/**
 * Reads and checks the key file: a regular file (not a link), exactly 32 bytes, that
 * neither group nor others may read or write. Throws SECRETS_KEY_INVALID saying which
 * rule it broke and how to fix it.
 */
export async function readPlatformKey(path: string): Promise<Buffer> {
  let info;
  try {
    info = await lstat(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw keyError(path, 'an existing file (aloft up creates it)', code === 'ENOENT' ? 'no such file' : `an error (${code})`);
  }
  if (!info.isFile()) throw keyError(path, 'a regular file', info.isSymbolicLink() ? 'a symbolic link' : 'something else');
  const mode = info.mode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw keyError(path, `readable by its owner only (chmod 600 ${path})`, `mode ${mode.toString(8).padStart(4, '0')}`);
  }
  if (info.size !== KEY_BYTES) throw keyError(path, `exactly ${KEY_BYTES} bytes`, `${info.size} bytes`);
  const key = await readFile(path);
  if (key.length !== KEY_BYTES) throw keyError(path, `exactly ${KEY_BYTES} bytes`, `${key.length} bytes`);
  return key;
}

/**
 * Writes a fresh key to a temporary file (0600, synced) and links it into place: `link`
 * refuses to replace an existing file, so a key is never half-written and never
 * overwritten, even by two starts at once.
 */
async function createKeyFile(path: string): Promise<void> {
  const temp = join(dirname(path), `.secrets.key.${shortId(6)}.tmp`);
  const handle = await open(temp, 'wx', 0o600);
  try {
    await handle.writeFile(randomBytes(KEY_BYTES));
    await handle.chmod(0o600); // whatever the umask was
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await link(temp, path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    await rm(temp, { force: true });
  }
}

function keyError(path: string, rule: string, got: string): AloftError {
  return new AloftError('SECRETS_KEY_INVALID', `Cannot use the secrets key file ${path} as it must be ${rule}: got ${got}`, { details: { path } });
}
