/**
 * A writer for the "newc" cpio format the Linux kernel unpacks as an initramfs. Written
 * here (about 60 lines) so building an initramfs needs no cpio binary and no root-owned
 * staging tree: every entry is owned by root and has exactly the mode we give it.
 */

/** One entry of an archive. Directories must come before what they hold. */
export type CpioEntry =
  | { type: 'dir'; path: string; mode?: number }
  | { type: 'file'; path: string; data: Uint8Array; mode?: number }
  | { type: 'symlink'; path: string; target: string }
  | { type: 'chardev'; path: string; major: number; minor: number; mode?: number };

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;

function hex8(n: number): string {
  return n.toString(16).padStart(8, '0');
}

function pad4(length: number): Buffer {
  return Buffer.alloc((4 - (length % 4)) % 4);
}

function header(ino: number, mode: number, size: number, name: string, rdevMajor = 0, rdevMinor = 0): Buffer {
  const nameBytes = Buffer.from(`${name}\0`, 'utf8');
  const fields = [ino, mode, 0, 0, 1, 0, size, 0, 0, rdevMajor, rdevMinor, nameBytes.length, 0];
  const head = Buffer.from(`070701${fields.map(hex8).join('')}`, 'latin1');
  const both = Buffer.concat([head, nameBytes]);
  return Buffer.concat([both, pad4(both.length)]);
}

/** Renders entries as one uncompressed newc archive, ending with the TRAILER!!! record. */
export function writeCpio(entries: readonly CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  let ino = 1;
  for (const entry of entries) {
    const name = entry.path.replace(/^\/+/, '');
    if (name === '' || name.split('/').includes('..')) throw new Error(`bad cpio path ${JSON.stringify(entry.path)}`);
    let data: Buffer = Buffer.alloc(0);
    let mode: number;
    let major = 0;
    let minor = 0;
    if (entry.type === 'dir') mode = S_IFDIR | (entry.mode ?? 0o755);
    else if (entry.type === 'file') {
      mode = S_IFREG | (entry.mode ?? 0o644);
      data = Buffer.from(entry.data);
    } else if (entry.type === 'symlink') {
      mode = S_IFLNK | 0o777;
      data = Buffer.from(entry.target, 'utf8');
    } else {
      mode = S_IFCHR | (entry.mode ?? 0o600);
      major = entry.major;
      minor = entry.minor;
    }
    parts.push(header(ino, mode, data.length, name, major, minor), data, pad4(data.length));
    ino += 1;
  }
  parts.push(header(0, 0, 0, 'TRAILER!!!'));
  return Buffer.concat(parts);
}
