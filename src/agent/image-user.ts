import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AloftError } from '../lib/errors.ts';

export interface ResolvedUser {
  uid: number;
  gid: number;
  additionalGids: number[];
}

/**
 * Resolves an image's `User` ("", "name", "uid", "uid:gid", "name:group") against the
 * image's own /etc/passwd and /etc/group, as Docker does. Numeric ids need no files
 * (images without /etc/passwd are common); names that are not there are an error.
 */
export async function resolveImageUser(rootfs: string, user: string): Promise<ResolvedUser> {
  const [userPart = '', groupPart] = user.split(':', 2);
  const passwd = parseColonFile(await readOptional(join(rootfs, 'etc/passwd')));
  const groups = parseColonFile(await readOptional(join(rootfs, 'etc/group')));

  let uid = 0;
  let gid = 0;
  let userName: string | undefined;
  if (userPart !== '') {
    if (/^\d+$/.test(userPart)) {
      uid = Number(userPart);
      const entry = passwd.find((e) => e[2] === userPart);
      gid = entry ? Number(entry[3]) : 0;
      userName = entry?.[0];
    } else {
      const entry = passwd.find((e) => e[0] === userPart);
      if (!entry) throw new AloftError('INVALID_ARGUMENT', `Cannot run image as 'user' must name a user in the image's /etc/passwd: got "${userPart}"`);
      uid = Number(entry[2]);
      gid = Number(entry[3]);
      userName = userPart;
    }
  }
  if (groupPart !== undefined && groupPart !== '') {
    if (/^\d+$/.test(groupPart)) gid = Number(groupPart);
    else {
      const entry = groups.find((e) => e[0] === groupPart);
      if (!entry) throw new AloftError('INVALID_ARGUMENT', `Cannot run image as 'user' group must name a group in the image's /etc/group: got "${groupPart}"`);
      gid = Number(entry[2]);
    }
  }
  const additionalGids =
    userName === undefined
      ? []
      : groups
          .filter((e) => (e[3] ?? '').split(',').includes(userName) && Number(e[2]) !== gid)
          .map((e) => Number(e[2]));
  return { uid, gid, additionalGids };
}

async function readOptional(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return '';
  }
}

function parseColonFile(text: string): string[][] {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '' && !line.startsWith('#'))
    .map((line) => line.split(':'));
}
