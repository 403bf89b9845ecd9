import { constants } from 'node:fs';
import { lstat, open, readlink } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { AloftError } from '../lib/errors.ts';

/** An image config's `User`, split: each side a name or a number, or absent. */
export interface ImageUser {
  user: string | number;
  group?: string | number;
}

/** The numeric identity a Machine's process runs as. */
export interface ResolvedUser {
  uid: number;
  gid: number;
  additionalGids: number[];
}

/**
 * Parses "", "name", "uid", "uid:gid", "name:group" (OCI image config `User`). An empty
 * string means root. Numbers must be 0…2^32-2.
 */
export function parseImageUser(user: string): ImageUser {
  if (user === '') return { user: 0 };
  const [u, g, extra] = user.split(':');
  if (extra !== undefined || u === undefined || u === '' || g === '') {
    throw new AloftError('IMAGE_INVALID', `Cannot read image user as 'User' must be "user" or "user:group": got ${JSON.stringify(user)}`);
  }
  return g === undefined ? { user: idOrName(u, user) } : { user: idOrName(u, user), group: idOrName(g, user) };
}

/**
 * Turns an image user into uid/gid against the image's own /etc/passwd and /etc/group,
 * read inside `rootDir` without ever leaving it (symlinks are resolved within the root).
 * A name that is not there is IMAGE_INVALID; a bare uid absent from passwd gets gid =
 * uid's passwd gid or 0, as Docker does.
 */
export async function resolveImageUser(rootDir: string, user: string): Promise<ResolvedUser> {
  const parsed = parseImageUser(user);
  const passwd = parseDb((await readInRoot(rootDir, '/etc/passwd')) ?? '');
  const groups = parseDb((await readInRoot(rootDir, '/etc/group')) ?? '');
  const entry = passwd.find((p) => (typeof parsed.user === 'number' ? Number(p[2]) === parsed.user : p[0] === parsed.user));
  if (entry === undefined && typeof parsed.user === 'string') {
    throw new AloftError('IMAGE_INVALID', `Cannot run as image user as '${parsed.user}' must be in the image's /etc/passwd: got no such user`);
  }
  const uid = typeof parsed.user === 'number' ? parsed.user : Number(entry?.[2]);
  let gid = Number(entry?.[3] ?? 0);
  if (parsed.group !== undefined) {
    const group = parsed.group;
    const found = typeof group === 'number' ? group : groups.find((g) => g[0] === group)?.[2];
    if (found === undefined) {
      throw new AloftError('IMAGE_INVALID', `Cannot run as image user as group '${String(group)}' must be in the image's /etc/group: got no such group`);
    }
    gid = Number(found);
  }
  const name = entry?.[0];
  const additionalGids = name === undefined ? [] : groups.filter((g) => (g[3] ?? '').split(',').includes(name)).map((g) => Number(g[2])).filter((n) => n !== gid);
  return { uid, gid, additionalGids };
}

function idOrName(value: string, whole: string): string | number {
  if (!/^\d+$/.test(value)) return value;
  const n = Number(value);
  if (n > 0xfffffffe) throw new AloftError('IMAGE_INVALID', `Cannot read image user as ids must be at most 4294967294: got ${JSON.stringify(whole)}`);
  return n;
}

function parseDb(text: string): string[][] {
  return text
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => line.split(':'));
}

/**
 * Reads a file of an untrusted root as if chrooted: every symlink is resolved against
 * `rootDir`, never the host's "/", and ".." stops at the root. Undefined when absent.
 */
export async function readInRoot(rootDir: string, path: string, limit = 1 << 20): Promise<string | undefined> {
  const pending = path.split('/').filter((p) => p !== '' && p !== '.');
  const done: string[] = [];
  for (let hops = 0; pending.length > 0; ) {
    const part = pending.shift() as string;
    if (part === '..') {
      done.pop();
      continue;
    }
    const here = join(rootDir, ...done, part);
    const st = await lstat(here).catch(() => undefined);
    if (st === undefined) return undefined;
    if (st.isSymbolicLink()) {
      if (++hops > 40) return undefined;
      const target = await readlink(here);
      if (target.startsWith('/')) done.length = 0;
      pending.unshift(...posix.normalize(target).split('/').filter((p) => p !== '' && p !== '.'));
      continue;
    }
    done.push(part);
  }
  // O_NOFOLLOW: the last component was checked above; refuse a swap since.
  const file = await open(join(rootDir, ...done), constants.O_RDONLY | constants.O_NOFOLLOW).catch(() => undefined);
  if (file === undefined) return undefined;
  try {
    const st = await file.stat();
    if (!st.isFile() || st.size > limit) return undefined;
    return (await file.readFile()).toString('utf8');
  } finally {
    await file.close();
  }
}
