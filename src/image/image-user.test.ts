import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { isAloftError } from '../lib/errors.ts';
import { parseImageUser, readInRoot, resolveImageUser } from './image-user.ts';

let base: string;
let root: string;

before(async () => {
  base = await mkdtemp(join(tmpdir(), 'aloft-user-'));
  root = join(base, 'root');
  await mkdir(join(root, 'etc'), { recursive: true });
  await mkdir(join(root, 'data'));
  await writeFile(join(root, 'data/passwd'), 'root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/app:/bin/sh\n');
  // Absolute, as images often have it: must resolve inside the root, not on the host.
  await symlink('/data/passwd', join(root, 'etc/passwd'));
  await writeFile(join(root, 'etc/group'), 'root:x:0:\napp:x:1000:\nstaff:x:50:app,other\n');
  await writeFile(join(base, 'host-secret'), 'host');
  await symlink('../../../host-secret', join(root, 'etc/escape'));
});
after(() => rm(base, { recursive: true, force: true }));

test('parseImageUser reads every OCI form', () => {
  assert.deepEqual(parseImageUser(''), { user: 0 });
  assert.deepEqual(parseImageUser('app'), { user: 'app' });
  assert.deepEqual(parseImageUser('1000'), { user: 1000 });
  assert.deepEqual(parseImageUser('1000:50'), { user: 1000, group: 50 });
  assert.deepEqual(parseImageUser('app:staff'), { user: 'app', group: 'staff' });
  for (const bad of [':1', '1:', 'a:b:c', '99999999999']) assert.throws(() => parseImageUser(bad), (err) => isAloftError(err, 'IMAGE_INVALID'));
});

test('resolveImageUser uses the image\'s passwd and group, read inside its root', async () => {
  assert.deepEqual(await resolveImageUser(root, ''), { uid: 0, gid: 0, additionalGids: [] });
  assert.deepEqual(await resolveImageUser(root, 'app'), { uid: 1000, gid: 1000, additionalGids: [50] });
  assert.deepEqual(await resolveImageUser(root, 'app:staff'), { uid: 1000, gid: 50, additionalGids: [] });
  assert.deepEqual(await resolveImageUser(root, '4242'), { uid: 4242, gid: 0, additionalGids: [] });
  await assert.rejects(resolveImageUser(root, 'ghost'), (err) => isAloftError(err, 'IMAGE_INVALID') && err.message.includes("'ghost'"));
});

test('readInRoot never leaves the root through ".." symlinks', async () => {
  assert.equal(await readInRoot(root, '/etc/escape'), undefined);
  assert.equal(await readInRoot(root, '/../../host-secret'), undefined);
});
