import { Transform, type TransformCallback } from 'node:stream';
import { AloftError } from '../lib/errors.ts';

/**
 * Bounds on what unpacking an untrusted image may do, against decompression bombs and
 * names built to exhaust the host. Byte and entry counts are per image (all layers
 * together); the header count is per layer.
 */
export interface UnpackLimits {
  /** File content written, all layers together. */
  maxImageBytes: number;
  /**
   * Decompressed tar bytes read, headers, padding and skipped bodies included, all
   * layers together: a gzip bomb of zero blocks writes nothing yet never ends.
   */
  maxTarBytes: number;
  /** Entries that create something (files, dirs, links, devices), all layers together. */
  maxImageEntries: number;
  /** Tar entries of one layer, whiteouts included. */
  maxLayerEntries: number;
  /** An entry's path, in UTF-8 bytes (Linux PATH_MAX). */
  maxPathBytes: number;
  /** One path component, in UTF-8 bytes (Linux NAME_MAX); a ".wh." prefix is extra. */
  maxNameBytes: number;
  /** A symlink's or hard link's target, in UTF-8 bytes. */
  maxLinkTargetBytes: number;
}

const GiB = 1024 ** 3;

/** Safe defaults: far above real images (the largest common ones are a few GiB). */
export const DEFAULT_UNPACK_LIMITS: Readonly<UnpackLimits> = Object.freeze({
  maxImageBytes: 8 * GiB,
  maxTarBytes: 10 * GiB,
  maxImageEntries: 500_000,
  maxLayerEntries: 1_000_000,
  maxPathBytes: 4096,
  maxNameBytes: 255,
  maxLinkTargetBytes: 4096,
});

/**
 * What one image's unpack has used so far, shared by its layers so that the per-image
 * limits hold across them. Each `charge*` throws IMAGE_UNSAFE the moment a limit is
 * passed, before the bytes or the entry that pass it are written.
 */
export class UnpackBudget {
  readonly limits: Readonly<UnpackLimits>;
  private bytes = 0;
  private tarBytes = 0;
  private entries = 0;

  constructor(limits: Partial<UnpackLimits> = {}) {
    this.limits = { ...DEFAULT_UNPACK_LIMITS, ...limits };
  }

  /** Throws when `bytes` more file content would pass the limit; charges nothing. */
  checkBytes(digest: string, entry: string, bytes: number): void {
    if (this.bytes + bytes > this.limits.maxImageBytes) {
      throw overLimit(digest, `the image must unpack to at most ${this.limits.maxImageBytes} bytes: got more at entry ${quoteName(entry)}`, entry);
    }
  }

  /** Counts file content about to be written for `entry`. */
  chargeBytes(digest: string, entry: string, bytes: number): void {
    this.checkBytes(digest, entry, bytes);
    this.bytes += bytes;
  }

  /** Counts an entry that creates something. */
  chargeEntry(digest: string, entry: string): void {
    if (this.entries + 1 > this.limits.maxImageEntries) {
      throw overLimit(digest, `the image must have at most ${this.limits.maxImageEntries} entries: got more at entry ${quoteName(entry)}`, entry);
    }
    this.entries++;
  }

  /** Counts decompressed tar bytes; `entry` is the last entry seen, if any. */
  chargeTarBytes(digest: string, entry: string | undefined, bytes: number): void {
    if (this.tarBytes + bytes > this.limits.maxTarBytes) {
      const where = entry === undefined ? 'before any entry' : `after entry ${quoteName(entry)}`;
      throw overLimit(digest, `its tar streams must decompress to at most ${this.limits.maxTarBytes} bytes: got more ${where}`, entry);
    }
    this.tarBytes += bytes;
  }

  /**
   * A pass-through that charges every decompressed byte before the tar parser sees it,
   * so a bomb stops at the first chunk over the limit. `lastEntry` names where it was.
   */
  meter(digest: string, lastEntry: () => string | undefined): Transform {
    return new Transform({
      transform: (chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) => {
        try {
          this.chargeTarBytes(digest, lastEntry(), chunk.length);
        } catch (err) {
          callback(err as Error);
          return;
        }
        callback(null, chunk);
      },
    });
  }
}

function overLimit(digest: string, rest: string, entry: string | undefined): AloftError {
  return new AloftError('IMAGE_UNSAFE', `Cannot unpack layer ${digest} as ${rest}`, {
    details: { layer: digest, ...(entry === undefined ? {} : { entry }) },
  });
}

/** An entry name for a message: quoted, printable, bounded. */
export function quoteName(name: string): string {
  const clean = name.replace(/[^\x20-\x7e]/g, '?');
  return `'${clean.length > 200 ? `${clean.slice(0, 197)}...` : clean}'`;
}
