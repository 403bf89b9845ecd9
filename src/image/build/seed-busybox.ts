import { execFile } from 'node:child_process';
import { open } from 'node:fs/promises';
import { promisify } from 'node:util';
import { AloftError } from '../../lib/errors.ts';
import { writeOciLayout, type BuiltImage, type ImageFile } from '../build-image.ts';
import { requireTool } from './host-tool.ts';

const run = promisify(execFile);

/** The PATH every seeded image sets (Debian's default for root). */
export const SEED_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * Writes a busybox base image into the OCI layout at `layout` under `tag`: the host's
 * static busybox (Debian's busybox-static) as /bin/busybox with a symlink per applet,
 * root and nobody in /etc/passwd and /etc/group, /tmp, /root. One layer, sorted, every
 * mtime at `created` (default the epoch), so the same busybox always gives the same
 * digest. Offline and quick.
 */
export async function writeBusyboxImage(layout: string, options: { tag?: string; created?: Date; busybox?: string } = {}): Promise<BuiltImage> {
  const busybox = options.busybox ?? requireTool('busybox', 'busybox-static', 'seed the busybox image');
  if (!(await isStatic(busybox))) {
    throw new AloftError('BUILD_TOOL_MISSING', `Cannot seed the busybox image as '${busybox}' must be a static binary (it is copied alone into the image): install 'busybox-static' instead of 'busybox'`);
  }
  const { stdout } = await run(busybox, ['--list-full'], { timeout: 10_000 });
  const applets = stdout
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && line !== 'bin/busybox');
  const files: ImageFile[] = [
    { path: '/bin/busybox', sourcePath: busybox, mode: 0o755 },
    // Absolute targets: the links work from any applet dir (bin, sbin, usr/bin, usr/sbin).
    ...applets.map((applet): ImageFile => ({ path: `/${applet}`, type: 'symlink', linkTarget: '/bin/busybox' })),
    { path: '/etc/passwd', content: 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' },
    { path: '/etc/group', content: 'root:x:0:\nnogroup:x:65534:\n' },
    { path: '/tmp', type: 'dir', mode: 0o1777 },
    { path: '/root', type: 'dir', mode: 0o700 },
  ];
  return writeOciLayout(layout, {
    tag: options.tag ?? 'latest',
    files,
    config: { env: [SEED_PATH], cmd: ['sh'] },
    ...(options.created === undefined ? {} : { created: options.created }),
  });
}

/** True for an ELF with no program interpreter: the interpreter path sits in the first page when present. */
async function isStatic(path: string): Promise<boolean> {
  const file = await open(path, 'r');
  try {
    const head = Buffer.alloc(4096);
    const { bytesRead } = await file.read(head, 0, head.length, 0);
    const bytes = head.subarray(0, bytesRead);
    return bytes.subarray(0, 4).toString('latin1') === '\x7fELF' && !bytes.includes('/ld-linux') && !bytes.includes('/ld-musl');
  } finally {
    await file.close();
  }
}
