import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { AloftError } from '../../lib/errors.ts';
import { sha256Digest } from '../digest.ts';
import { MEDIA_TYPES } from '../media-types.ts';
import { hostPlatform } from '../platform.ts';
import { addToLayout } from '../write-layout.ts';
import { aptMirror, DEFAULT_DEBIAN_MIRROR } from './apt-mirror.ts';
import { requireTool } from './host-tool.ts';
import { tarDirectoryLayer } from './layer-tar.ts';
import { SEED_PATH } from './seed-busybox.ts';
import { spawnLines } from './spawn-lines.ts';
import { unmountUnder } from './unmount-under.ts';

/** Options of the Debian seed. */
export interface DebianSeedOptions {
  /** Default "bookworm". */
  suite?: string;
  /** Default: the mirror apt on this host uses for the suite (aptMirror). */
  mirror?: string;
  /** Layout tag; default the suite. */
  tag?: string;
  /** Created time and every mtime, epoch seconds; default 0. */
  mtime?: number;
  /** Where debootstrap works; default the OS temp dir. Needs ~300 MB. */
  workDir?: string;
  onLine?: (line: string) => void;
}

// Not part of an image: devices and kernel filesystems come from the runtime; apt's
// downloaded packages and lists, and logs, only make the layer bigger and less reproducible.
const EXCLUDE = ['dev/*', 'proc/*', 'sys/*', 'run/*', 'tmp/*', 'var/cache/apt/*.bin', 'var/cache/apt/archives/*.deb', 'var/lib/apt/lists/*', 'var/log/*', 'var/cache/ldconfig/aux-cache'];

/**
 * Writes a minimal Debian image (`debootstrap --variant=minbase`) into the OCI layout
 * at `layout`. Needs root, debootstrap and the network to the mirror; takes minutes.
 * One layer tarred reproducibly (sorted, fixed mtimes); the packages themselves are
 * what the mirror serves that day.
 */
export async function writeDebianImage(layout: string, options: DebianSeedOptions = {}): Promise<{ tag: string; digest: string; mirror: string }> {
  const debootstrap = requireTool('debootstrap', 'debootstrap', 'seed the debian image');
  if (process.getuid?.() !== 0) throw new AloftError('BUILD_FAILED', "Cannot seed the debian image as debootstrap must run as root: run 'aloft images seed' as root");
  const suite = options.suite ?? 'bookworm';
  if (!/^[a-z][a-z0-9-]{1,30}$/.test(suite)) throw new AloftError('INVALID_ARGUMENT', `Cannot seed the debian image as 'suite' must be a Debian suite name such as "bookworm": got ${JSON.stringify(suite)}`);
  const mirror = options.mirror ?? (await aptMirror(suite));
  if (!/^(https?|file):\/\/\S+$/.test(mirror)) throw new AloftError('INVALID_ARGUMENT', `Cannot seed the debian image as 'mirror' must be an http(s) or file URL such as "${DEFAULT_DEBIAN_MIRROR}": got ${JSON.stringify(mirror)}`);
  const mtime = options.mtime ?? 0;
  const work = await mkdtemp(join(options.workDir ?? (process.env['TMPDIR'] || '/tmp'), 'aloft-debootstrap-'));
  try {
    const root = join(work, 'root');
    const run = await spawnLines(debootstrap, ['--variant=minbase', suite, root, mirror], {
      env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C', DEBIAN_FRONTEND: 'noninteractive' },
      timeoutMs: 30 * 60_000,
      errorCode: 'BUILD_FAILED',
      ...(options.onLine ? { onLine: options.onLine } : {}),
    });
    if (run.code !== 0) {
      throw new AloftError('BUILD_FAILED', `Cannot seed the debian image as 'debootstrap --variant=minbase ${suite}' from ${mirror} must succeed: exit ${run.code}:\n${run.tail.slice(-15).join('\n')}`);
    }
    const layer = await tarDirectoryLayer(root, work, { mtime, exclude: EXCLUDE });
    const platform = hostPlatform();
    const created = new Date(mtime * 1000).toISOString();
    const config = Buffer.from(
      JSON.stringify({
        created,
        architecture: platform.architecture,
        os: platform.os,
        config: { Env: [SEED_PATH], Cmd: ['bash'] },
        rootfs: { type: 'layers', diff_ids: [layer.diffId] },
        history: [{ created, created_by: `debootstrap --variant=minbase ${suite} ${mirror}` }],
      }),
    );
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MEDIA_TYPES.ociManifest,
        config: { mediaType: MEDIA_TYPES.ociConfig, digest: sha256Digest(config), size: config.length },
        layers: [{ mediaType: MEDIA_TYPES.ociLayerGzip, digest: sha256Digest(layer.gzip), size: layer.gzip.length }],
      }),
    );
    const tag = options.tag ?? suite;
    const digest = await addToLayout(layout, { manifest, blobs: [config, layer.gzip], tag, platform });
    return { tag, digest, mirror };
  } finally {
    // Never rm through a mount debootstrap left behind (its /proc, bind-mounted /dev nodes).
    await unmountUnder(work);
    await rm(work, { recursive: true, force: true });
  }
}
