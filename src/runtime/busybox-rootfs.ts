import { chmod, copyFile, mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Debian's busybox package ships a static binary here. */
export const HOST_BUSYBOX = '/usr/bin/busybox';

const APPLETS = ['sh', 'sleep', 'httpd', 'id', 'pwd', 'echo', 'cat', 'env', 'ls', 'true', 'wget'];

/**
 * Builds a tiny root filesystem for tests: a static busybox with the applets the
 * contract suite uses, /www/index.html for httpd, and a world-writable /tmp.
 */
export async function buildBusyboxRoot(root: string, busybox: string = HOST_BUSYBOX): Promise<void> {
  for (const dir of ['bin', 'etc', 'proc', 'dev', 'sys', 'www', 'tmp']) await mkdir(join(root, dir), { recursive: true });
  await chmod(join(root, 'tmp'), 0o1777);
  await copyFile(busybox, join(root, 'bin/busybox'));
  await chmod(join(root, 'bin/busybox'), 0o755);
  for (const applet of APPLETS) await symlink('busybox', join(root, 'bin', applet));
  await writeFile(join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/tmp:/bin/sh\n');
  await writeFile(join(root, 'etc/group'), 'root:x:0:\napp:x:1000:\nextra:x:2000:app\n');
  await writeFile(join(root, 'www/index.html'), 'hello from busybox\n');
}
