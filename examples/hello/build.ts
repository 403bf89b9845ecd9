import { fileURLToPath } from 'node:url';
import { open } from 'node:fs/promises';
import { AloftError } from '../../src/lib/errors.ts';
import { writeOciLayout, type ImageFile } from '../../src/image/index.ts';

/** Where the example's files come from on the host. */
export interface HelloBuildOptions {
  /** A statically linked busybox; default /usr/bin/busybox (Debian's busybox-static). */
  busybox?: string;
}

// Applets the image links to busybox: the two it needs (sh, httpd) and a few to look
// around with `aloft ssh console` or `machine exec`.
const APPLETS = ['sh', 'httpd', 'cat', 'echo', 'env', 'ls', 'mkdir', 'ps', 'hostname', 'id', 'ip', 'wget', 'nc', 'kill', 'sleep', 'uname', 'top', 'rm', 'cp', 'mv', 'grep', 'sed', 'df', 'free', 'vi'];

const ENTRYPOINT = fileURLToPath(new URL('./entrypoint.sh', import.meta.url));

/**
 * Builds the hello example's image without Docker: a static busybox as /bin/busybox
 * with its applets symlinked in /bin, and /entrypoint.sh, which writes /www/index.html
 * from FLY_APP_NAME, FLY_MACHINE_ID, FLY_REGION (and FLY_PRIVATE_IP) and then runs
 * `httpd -f -p ${PORT:-8080} -h /www`. Writes an OCI image layout at `outDir`, tagged
 * "latest", and returns `outDir`: usable as an image reference as it is. Reproducible:
 * the same busybox gives the same digest.
 */
export async function buildHelloImage(outDir: string, options: HelloBuildOptions = {}): Promise<string> {
  const busybox = options.busybox ?? '/usr/bin/busybox';
  await assertStatic(busybox);
  const files: ImageFile[] = [
    { path: '/bin/busybox', sourcePath: busybox, mode: 0o755 },
    ...APPLETS.map((applet): ImageFile => ({ path: `/bin/${applet}`, type: 'symlink', linkTarget: 'busybox' })),
    { path: '/entrypoint.sh', sourcePath: ENTRYPOINT, mode: 0o755 },
    { path: '/www', type: 'dir' },
    { path: '/tmp', type: 'dir', mode: 0o1777 },
    { path: '/root', type: 'dir', mode: 0o700 },
    { path: '/etc/passwd', content: 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' },
    { path: '/etc/group', content: 'root:x:0:\nnogroup:x:65534:\n' },
    { path: '/etc/hostname', content: 'hello\n' },
  ];
  await writeOciLayout(outDir, {
    files,
    tag: 'latest',
    config: {
      entrypoint: ['/bin/sh', '/entrypoint.sh'],
      cmd: [],
      env: ['PATH=/bin'],
      workingDir: '/',
      user: '',
      exposedPorts: [8080],
    },
  });
  return outDir;
}

/**
 * A dynamically linked busybox would fail in the image with a baffling "not found", so
 * refuse it here: an ELF with a PT_INTERP program header needs a loader the image lacks.
 */
async function assertStatic(path: string): Promise<void> {
  const file = await open(path, 'r').catch((err: unknown) => {
    throw new AloftError('INVALID_ARGUMENT', `Cannot build the hello image as 'busybox' must be a file: got nothing at ${path}`, { cause: err });
  });
  try {
    const head = Buffer.alloc(64);
    await file.read(head, 0, 64, 0);
    if (head.readUInt32BE(0) !== 0x7f454c46 || head[4] !== 2) {
      throw new AloftError('INVALID_ARGUMENT', `Cannot build the hello image as 'busybox' must be a 64-bit ELF binary: got ${path}`);
    }
    const phoff = Number(head.readBigUInt64LE(32));
    const phentsize = head.readUInt16LE(54);
    const phnum = head.readUInt16LE(56);
    const table = Buffer.alloc(phentsize * phnum);
    await file.read(table, 0, table.length, phoff);
    for (let i = 0; i < phnum; i++) {
      if (table.readUInt32LE(i * phentsize) === 3) {
        throw new AloftError('INVALID_ARGUMENT', `Cannot build the hello image as 'busybox' must be statically linked: got a dynamic ${path} (install busybox-static)`);
      }
    }
  } finally {
    await file.close();
  }
}
