import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { resolveImageUser } from './image-user.ts';

let root: string;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'aloft-user-'));
  await mkdir(join(root, 'etc'));
  await writeFile(join(root, 'etc/passwd'), 'root:x:0:0::/root:/bin/sh\nwww:x:33:33::/var/www:/bin/sh\n');
  await writeFile(join(root, 'etc/group'), 'root:x:0:\nwww:x:33:\nextra:x:500:www\n');
});
after(() => rm(root, { recursive: true, force: true }));

test('users resolve by name, by number, with groups', async () => {
  assert.deepEqual(await resolveImageUser(root, ''), { uid: 0, gid: 0, additionalGids: [] });
  assert.deepEqual(await resolveImageUser(root, 'www'), { uid: 33, gid: 33, additionalGids: [500] });
  assert.deepEqual(await resolveImageUser(root, '1234:99'), { uid: 1234, gid: 99, additionalGids: [] });
  assert.deepEqual(await resolveImageUser(root, 'www:root'), { uid: 33, gid: 0, additionalGids: [500] });
});

test('a user name the image does not have is an error naming it', async () => {
  await assert.rejects(resolveImageUser(root, 'nobody'), /must name a user in the image's \/etc\/passwd: got "nobody"/);
  await assert.rejects(resolveImageUser(root, 'www:nogroup'), /got "nogroup"/);
});
