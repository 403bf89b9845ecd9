/**
 * A minimal writer of the "newc" cpio format, the one the Linux kernel unpacks as an
 * initramfs. Enough for small, generated archives (the accelerator probe); no cpio
 * binary needed.
 */

/** One archive member. Directories before their contents; parents are not implied. */
export type CpioEntry =
  | { type: 'dir'; name: string; mode?: number }
  | { type: 'file'; name: string; data: Uint8Array; mode?: number }
  | { type: 'char'; name: string; major: number; minor: number; mode?: number };

const TYPE_BITS = { dir: 0o040000, file: 0o100000, char: 0o020000 } as const;

/** The archive's bytes, entries in order, then the trailer. */
export function buildCpio(entries: readonly CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  entries.forEach((entry, index) => {
    const data = entry.type === 'file' ? Buffer.from(entry.data) : Buffer.alloc(0);
    const mode = TYPE_BITS[entry.type] | (entry.mode ?? (entry.type === 'dir' ? 0o755 : 0o644));
    const rdev = entry.type === 'char' ? [entry.major, entry.minor] : [0, 0];
    parts.push(...member(entry.name, { ino: index + 1, mode, nlink: entry.type === 'dir' ? 2 : 1, rdev: rdev as [number, number] }, data));
  });
  parts.push(...member('TRAILER!!!', { ino: 0, mode: 0, nlink: 1, rdev: [0, 0] }, Buffer.alloc(0)));
  return Buffer.concat(parts);
}

function member(name: string, fields: { ino: number; mode: number; nlink: number; rdev: [number, number] }, data: Buffer): Buffer[] {
  const nameBytes = Buffer.from(`${name.replace(/^\/+/, '')}\0`);
  const hex = (n: number): string => n.toString(16).padStart(8, '0');
  const header =
    '070701' +
    [fields.ino, fields.mode, 0, 0, fields.nlink, 0, data.length, 0, 0, fields.rdev[0], fields.rdev[1], nameBytes.length, 0].map(hex).join('');
  // The header plus name, and then the data, are each padded to a multiple of 4 bytes.
  const head = Buffer.concat([Buffer.from(header, 'ascii'), nameBytes]);
  return [head, pad(head.length), data, pad(data.length)];
}

function pad(length: number): Buffer {
  return Buffer.alloc((4 - (length % 4)) % 4);
}
