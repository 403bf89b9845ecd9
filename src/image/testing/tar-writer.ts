/**
 * A small ustar + PAX tar writer for test images. tar-stream's pack writes PAX values as
 * UTF-8 text, so binary xattrs (security.capability) cannot be made with it; this one
 * writes bytes as given, as Go's archive/tar (Docker, buildkit, umoci) does.
 */

/** One entry. Directories end their name with "/" by convention (added if missing). */
export interface TarEntry {
  name: string;
  type: 'file' | 'directory' | 'symlink' | 'link' | 'fifo';
  mode: number;
  uid?: number;
  gid?: number;
  /** Seconds since the epoch; a fraction is written as a PAX mtime record too. */
  mtime: number;
  linkname?: string;
  body?: Buffer;
  xattrs?: Record<string, Buffer>;
}

const TYPEFLAG = { file: '0', link: '1', symlink: '2', directory: '5', fifo: '6' } as const;

/** The blocks of one entry: a PAX header when needed, the ustar header, the padded body. */
export function tarEntry(entry: TarEntry): Buffer[] {
  const name = entry.type === 'directory' && !entry.name.endsWith('/') ? `${entry.name}/` : entry.name;
  const body = entry.body ?? Buffer.alloc(0);
  const linkname = entry.linkname ?? '';
  const records: Buffer[] = [];
  if (Buffer.byteLength(name) > 100) records.push(paxRecord('path', Buffer.from(name)));
  if (Buffer.byteLength(linkname) > 100) records.push(paxRecord('linkpath', Buffer.from(linkname)));
  if (!Number.isInteger(entry.mtime)) records.push(paxRecord('mtime', Buffer.from(String(entry.mtime))));
  for (const [key, value] of Object.entries(entry.xattrs ?? {}).sort(([a], [b]) => (a < b ? -1 : 1))) records.push(paxRecord(`SCHILY.xattr.${key}`, value));
  const out: Buffer[] = [];
  if (records.length > 0) {
    const pax = Buffer.concat(records);
    out.push(header({ name: 'PaxHeaders/x', mode: 0o644, mtime: entry.mtime, size: pax.length, typeflag: 'x', linkname: '' }), pad(pax));
  }
  out.push(
    header({
      name: name.slice(0, 100),
      mode: entry.mode,
      uid: entry.uid ?? 0,
      gid: entry.gid ?? 0,
      mtime: entry.mtime,
      size: entry.type === 'file' ? body.length : 0,
      typeflag: TYPEFLAG[entry.type],
      linkname: linkname.slice(0, 100),
    }),
  );
  if (entry.type === 'file' && body.length > 0) out.push(pad(body));
  return out;
}

/** The two zero blocks that end an archive. */
export const TAR_END = Buffer.alloc(1024);

function paxRecord(key: string, value: Buffer): Buffer {
  const rest = Buffer.concat([Buffer.from(` ${key}=`), value, Buffer.from('\n')]);
  // The length counts its own digits.
  let length = rest.length + 1;
  while (String(length).length + rest.length !== length) length = String(length).length + rest.length;
  return Buffer.concat([Buffer.from(String(length)), rest]);
}

function pad(data: Buffer): Buffer {
  const rem = data.length % 512;
  return rem === 0 ? data : Buffer.concat([data, Buffer.alloc(512 - rem)]);
}

interface Fields {
  name: string;
  mode: number;
  uid?: number;
  gid?: number;
  mtime: number;
  size: number;
  typeflag: string;
  linkname: string;
}

function header(f: Fields): Buffer {
  const b = Buffer.alloc(512);
  b.write(f.name, 0, 100, 'utf8');
  octal(b, 100, 8, f.mode & 0o7777);
  octal(b, 108, 8, f.uid ?? 0);
  octal(b, 116, 8, f.gid ?? 0);
  octal(b, 124, 12, f.size);
  octal(b, 136, 12, Math.floor(f.mtime));
  b.fill(0x20, 148, 156);
  b.write(f.typeflag, 156, 1, 'latin1');
  b.write(f.linkname, 157, 100, 'utf8');
  b.write('ustar\u000000', 257, 8, 'latin1');
  let sum = 0;
  for (const byte of b) sum += byte;
  b.write(`${sum.toString(8).padStart(6, '0')}\u0000 `, 148, 8, 'latin1');
  return b;
}

function octal(b: Buffer, at: number, width: number, value: number): void {
  b.write(`${value.toString(8).padStart(width - 1, '0')}\u0000`, at, width, 'latin1');
}
