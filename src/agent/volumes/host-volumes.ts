import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { execCommand, mustRun, type CommandRunner } from '../../lib/command.ts';
import { AloftError } from '../../lib/errors.ts';
import { mountPoints } from '../../image/mounts.ts';

/** One GiB: what one `size_gb` is on a real host. */
export const GIB = 1024 ** 3;

/** mkfs, resize2fs and cp of a large image can take a while; a hang is a stuck disk. */
const SLOW = { timeoutMs: 10 * 60_000, errorCode: 'VOLUME_FAILED' } as const;
const QUICK = { timeoutMs: 30_000, errorCode: 'VOLUME_FAILED' } as const;

export interface HostVolumesOptions {
  /** Image files live in <dataDir>/volumes, snapshots in <dataDir>/volumes/snapshots. */
  dataDir: string;
  run?: CommandRunner;
  /** Bytes per unit of `size_gb`: 1 GiB, except in tests, which use a few MiB. */
  bytesPerGb?: number;
}

/** What a snapshot copy is: how much disk it takes and what its contents hash to. */
export interface SnapshotResult {
  size: number;
  digest: string;
}

/**
 * A host's volumes on disk: each is a sparse ext4 image file, loop-mounted on the host
 * while a Machine uses it. Every operation is idempotent, so the agent can repeat one
 * that an earlier agent was interrupted in: a new image is built under a temporary name
 * and renamed into place only when complete.
 */
export class HostVolumes {
  readonly #dir: string;
  readonly #run: CommandRunner;
  readonly #bytesPerGb: number;

  constructor(options: HostVolumesOptions) {
    this.#dir = join(options.dataDir, 'volumes');
    this.#run = options.run ?? execCommand;
    this.#bytesPerGb = options.bytesPerGb ?? GIB;
  }

  imagePath(volumeId: string): string {
    return join(this.#dir, `${volumeId}.ext4`);
  }

  snapshotPath(snapshotId: string): string {
    return join(this.#dir, 'snapshots', `${snapshotId}.ext4`);
  }

  /** Where a volume is loop-mounted on the host while its Machine runs. */
  mountPath(volumeId: string): string {
    return join(this.#dir, 'mnt', volumeId);
  }

  /** The mount points directory, for finding mounts left by an earlier agent. */
  get mountsDir(): string {
    return join(this.#dir, 'mnt');
  }

  async exists(volumeId: string): Promise<boolean> {
    return (await stat(this.imagePath(volumeId)).catch(() => undefined)) !== undefined;
  }

  /** Makes an empty ext4 volume of `sizeGb`: a sparse file (truncate) formatted in place. */
  async create(volumeId: string, sizeGb: number): Promise<void> {
    if (await this.exists(volumeId)) return;
    await this.#build(volumeId, async (tmp) => {
      await mustRun(this.#run, 'truncate', ['-s', String(this.#bytes(sizeGb)), tmp], QUICK);
      // -E nodiscard: discarding a sparse file only punches holes it already has.
      await mustRun(this.#run, 'mkfs.ext4', ['-q', '-F', '-E', 'nodiscard', tmp], SLOW);
    });
  }

  /** Makes a volume from a copy of `sourcePath` (a snapshot or another volume's image), grown to `sizeGb`. */
  async createFrom(volumeId: string, sourcePath: string, sizeGb: number): Promise<void> {
    if (await this.exists(volumeId)) return;
    await this.#build(volumeId, async (tmp) => {
      await this.#copy(sourcePath, tmp);
      await this.#growOffline(tmp, this.#bytes(sizeGb));
    });
  }

  /**
   * Grows the image file to `sizeGb` and its filesystem with it. Online when the volume
   * is loop-mounted (the loop device is told of the new size, then resize2fs grows the
   * mounted ext4); offline otherwise (resize2fs wants a clean fsck first).
   */
  async extend(volumeId: string, sizeGb: number): Promise<{ online: boolean }> {
    const image = this.imagePath(volumeId);
    const loop = await this.#loopDevice(image);
    if (loop === undefined) {
      await this.#growOffline(image, this.#bytes(sizeGb));
      return { online: false };
    }
    await this.#truncateUp(image, this.#bytes(sizeGb));
    await mustRun(this.#run, 'losetup', ['-c', loop], QUICK);
    // Online resize needs CAP_SYS_RESOURCE, which a container host may lack; then the
    // filesystem grows at its next mount instead (mount() checks), and the file already has.
    const online = await this.#run('resize2fs', [loop], SLOW);
    return { online: online.code === 0 };
  }

  /** Deletes the image file. Refuses while it is loop-mounted (a Machine still has it). */
  async remove(volumeId: string): Promise<void> {
    const image = this.imagePath(volumeId);
    if ((await this.#loopDevice(image)) !== undefined) {
      // Not mounted but still on a loop device: the kernel frees an autoclear loop device
      // a moment after the unmount (longer under load), so wait that out before refusing.
      const mounted = (await mountPoints()).has(this.mountPath(volumeId));
      if (mounted || !(await this.#loopFreed(image, 3000))) {
        throw new AloftError('VOLUME_FAILED', `Cannot delete volume ${volumeId} as its image must not be mounted: got it attached to a loop device`);
      }
    }
    await rm(image, { force: true });
    await rm(this.mountPath(volumeId), { recursive: false, force: true }).catch(() => undefined);
  }

  /** Whether `image` leaves its loop device within `ms` (polled every 50 ms). */
  async #loopFreed(image: string, ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      if ((await this.#loopDevice(image)) === undefined) return true;
    }
    return false;
  }

  /** Loop-mounts the volume at its mount path (a no-op when already mounted there). */
  async mount(volumeId: string): Promise<string> {
    const target = this.mountPath(volumeId);
    await mkdir(target, { recursive: true });
    if ((await mountPoints()).has(target)) return target;
    const image = this.imagePath(volumeId);
    if ((await this.#filesystemBytes(image)) < (await stat(image)).size) await this.#growOffline(image, 0);
    await mustRun(this.#run, 'mount', ['-t', 'ext4', '-o', 'loop', this.imagePath(volumeId), target], QUICK);
    return target;
  }

  /** Unmounts the volume; the loop device goes with it (mount -o loop sets autoclear). */
  async unmount(volumeId: string): Promise<void> {
    const target = this.mountPath(volumeId);
    if (!(await mountPoints()).has(target)) return;
    await mustRun(this.#run, 'umount', [target], QUICK);
  }

  /** True when the volume is loop-mounted at its mount path. */
  async isMounted(volumeId: string): Promise<boolean> {
    return (await mountPoints()).has(this.mountPath(volumeId));
  }

  /**
   * Copies the image file to a snapshot. While the volume is mounted, its filesystem is
   * frozen (fsfreeze) for the copy: writes block, so the copy is a consistent ext4 image,
   * as after a clean power cut. Data a Machine has not yet written back to the host
   * (e.g. held in gVisor's own page cache) is not in it, as after a power cut.
   */
  async snapshot(volumeId: string, snapshotId: string): Promise<SnapshotResult> {
    const final = this.snapshotPath(snapshotId);
    if (!(await stat(final).catch(() => undefined))) {
      await mkdir(join(this.#dir, 'snapshots'), { recursive: true });
      const tmp = `${final}.tmp`;
      await rm(tmp, { force: true });
      const mounted = await this.isMounted(volumeId);
      if (mounted) await mustRun(this.#run, 'fsfreeze', ['-f', this.mountPath(volumeId)], QUICK);
      try {
        await this.#copy(this.imagePath(volumeId), tmp);
      } finally {
        if (mounted) await mustRun(this.#run, 'fsfreeze', ['-u', this.mountPath(volumeId)], QUICK);
      }
      await rename(tmp, final);
    }
    const info = await stat(final);
    return { size: info.blocks * 512, digest: await sha256File(final) };
  }

  async removeSnapshot(snapshotId: string): Promise<void> {
    await rm(this.snapshotPath(snapshotId), { force: true });
  }

  #bytes(sizeGb: number): number {
    return sizeGb * this.#bytesPerGb;
  }

  /** Runs `make` on a temporary file, then renames it into place: never a half-built volume. */
  async #build(volumeId: string, make: (tmp: string) => Promise<void>): Promise<void> {
    await mkdir(this.#dir, { recursive: true });
    const tmp = `${this.imagePath(volumeId)}.tmp`;
    await rm(tmp, { force: true });
    try {
      await make(tmp);
      await rename(tmp, this.imagePath(volumeId));
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }

  /** A sparse copy: holes stay holes, so a mostly empty 10 GB volume copies in moments. */
  async #copy(from: string, to: string): Promise<void> {
    await mustRun(this.#run, 'cp', ['--sparse=always', '--reflink=auto', from, to], SLOW);
  }

  /** Always checks and resizes, even when the file is already long enough: an earlier try may have stopped in between. */
  async #growOffline(image: string, bytes: number): Promise<void> {
    await this.#truncateUp(image, bytes);
    // e2fsck exits 1 when it fixed something, which still leaves a clean filesystem.
    const check = await this.#run('e2fsck', ['-f', '-y', image], SLOW);
    if (check.code > 1) {
      throw new AloftError('VOLUME_FAILED', `Cannot grow volume image ${image} as its filesystem must check clean: got e2fsck exit ${check.code}: ${check.stdout.trim()} ${check.stderr.trim()}`);
    }
    await mustRun(this.#run, 'resize2fs', [image], SLOW);
  }

  /** Grows the file to `bytes` (never shrinks it). True when it grew. */
  async #truncateUp(image: string, bytes: number): Promise<boolean> {
    const { size } = await stat(image);
    if (size >= bytes) return false;
    await mustRun(this.#run, 'truncate', ['-s', String(bytes), image], QUICK);
    return true;
  }

  /** How much of the image its ext4 filesystem spans (less than the file after an extend that could not resize online). */
  async #filesystemBytes(image: string): Promise<number> {
    const out = await mustRun(this.#run, 'dumpe2fs', ['-h', image], QUICK);
    const field = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(out)?.[1] ?? NaN);
    const bytes = field('Block count') * field('Block size');
    if (!Number.isFinite(bytes)) throw new AloftError('VOLUME_FAILED', `Cannot read the filesystem size of ${image} as dumpe2fs must show its block count and size: got ${out.slice(0, 200)}`);
    return bytes;
  }

  /** The loop device backing `image`, if any. */
  async #loopDevice(image: string): Promise<string | undefined> {
    const out = await mustRun(this.#run, 'losetup', ['-n', '-O', 'NAME', '-j', image], QUICK);
    return out.split('\n').map((l) => l.trim()).find((l) => l !== '');
  }
}

/** `sha256:<hex>` of a file's contents, streamed. */
async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return `sha256:${hash.digest('hex')}`;
}
