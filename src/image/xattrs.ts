import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import type { Header } from 'tar-stream';
import { AloftError } from '../lib/errors.ts';

const run = promisify(execFile);
const XATTR_KEY = 'SCHILY.xattr.';

/** setfattr and getfattr from Debian's `attr` package: Node has no xattr API. */
export const SETFATTR = ['/usr/bin/setfattr', '/bin/setfattr'].find((p) => existsSync(p));
const GETFATTR = ['/usr/bin/getfattr', '/bin/getfattr'].find((p) => existsSync(p));

/**
 * xattrs never applied, as umoci does: SELinux labels and NFSv4 ACLs are the host's,
 * not the image's. `trusted.overlay.*` are skipped too: unpacked roots are overlayfs
 * lower dirs, where these names steer overlayfs itself (opaque dirs, redirects,
 * metacopy); umoci escapes them in its overlayfs mode, aloft drops them.
 */
export function isAppliedXattr(name: string): boolean {
  return name !== 'security.selinux' && name !== 'system.nfs4_acl' && !name.startsWith('trusted.overlay.') && name.length > 0;
}

let patched = false;

/**
 * Makes tar-stream keep the raw bytes of `SCHILY.xattr.*` PAX values. tar-stream
 * decodes every PAX value as UTF-8, which mangles binary values such as
 * `security.capability`; Go's archive/tar (umoci, Docker) keeps bytes. The replacement
 * decodes every other record exactly as before and gives xattr values as latin1 strings
 * (one char per byte), read back with `xattrsOf`. Idempotent; tar-stream is pinned.
 */
export function keepBinaryXattrs(): void {
  if (patched) return;
  const require = createRequire(import.meta.url);
  const headers = require(join(dirname(require.resolve('tar-stream')), 'headers.js')) as { decodePax: (buf: Buffer) => Record<string, string> };
  headers.decodePax = decodePax;
  patched = true;
}

function decodePax(input: Buffer): Record<string, string> {
  const result: Record<string, string> = {};
  let buf = input;
  while (buf.length > 0) {
    let i = 0;
    while (i < buf.length && buf[i] !== 32) i++;
    const len = parseInt(buf.subarray(0, i).toString(), 10);
    if (!len) return result;
    const record = buf.subarray(i + 1, len - 1);
    const eq = record.indexOf(0x3d);
    if (eq === -1) return result;
    const key = record.subarray(0, eq).toString();
    const value = record.subarray(eq + 1);
    result[key] = value.toString(key.startsWith(XATTR_KEY) ? 'latin1' : 'utf8');
    buf = buf.subarray(len);
  }
  return result;
}

/** The xattrs a header carries (PAX `SCHILY.xattr.<name>`), values as bytes. */
export function xattrsOf(header: Header): [string, Buffer][] {
  const pax = (header as Header & { pax?: Record<string, string> | null }).pax;
  if (pax === undefined || pax === null) return [];
  const out: [string, Buffer][] = [];
  for (const [key, value] of Object.entries(pax)) {
    if (key.startsWith(XATTR_KEY)) out.push([key.slice(XATTR_KEY.length), Buffer.from(value, patched ? 'latin1' : 'utf8')]);
  }
  return out;
}

/**
 * The xattrs of one layer, applied together by one `setfattr -h --restore` run (no
 * symlink is followed) once the layer's entries exist. Paths are relative to the root.
 */
export class XattrBatch {
  /** Relative path → the xattrs its latest entry in the layer carries. */
  private readonly pending = new Map<string, [string, Buffer][]>();
  /** Directories that were there before their entry: their old xattrs go (umoci clears them). */
  private readonly kept = new Set<string>();

  /** Sets what `rel` gets (replacing an earlier entry's); names umoci skips are left out. */
  set(rel: string, xattrs: [string, Buffer][]): void {
    const kept = xattrs.filter(([name]) => isAppliedXattr(name));
    if (kept.length === 0) this.pending.delete(rel);
    else this.pending.set(rel, kept);
  }

  /**
   * Drops what was queued for `rel` and everything below it, which is being removed.
   * This matters for safety, not only tidiness: setfattr follows symlinks in a path's
   * parents, so a queued path whose parent is later replaced by a symlink must not be
   * applied (it could reach outside the root).
   */
  forget(rel: string, subtree = true): void {
    this.pending.delete(rel);
    this.kept.delete(rel);
    if (!subtree) return;
    const below = `${rel}/`;
    for (const path of this.pending.keys()) if (path === rel || rel === '' || path.startsWith(below)) this.pending.delete(path);
    for (const path of this.kept) if (path === rel || rel === '' || path.startsWith(below)) this.kept.delete(path);
  }

  /** Marks a directory that an entry re-declared over an existing one ('' for the root). */
  keep(rel: string): void {
    this.kept.add(rel);
  }

  /**
   * Applies what was queued under `root`, using `scratch` for the dump file. A file
   * system without xattr support is tolerated (as umoci does); any other failure, or a
   * missing setfattr, is an error naming the layer.
   */
  async apply(root: string, scratch: string, layer: string): Promise<void> {
    if (this.kept.size > 0) await this.clearKept(root, layer);
    if (this.pending.size === 0) return;
    if (SETFATTR === undefined) {
      throw new AloftError('INTERNAL', `Cannot unpack layer ${layer} as its xattrs need setfattr, which must be installed (apt-get install attr): got none`, { details: { layer } });
    }
    const lines: string[] = [];
    for (const [rel, xattrs] of this.pending) {
      lines.push(`# file: ${quote(rel === '' ? '.' : `./${rel}`)}`, ...xattrs.map(([name, value]) => `${quote(name)}=0s${value.toString('base64')}`), '');
    }
    await writeFile(scratch, `${lines.join('\n')}\n`);
    try {
      await run(SETFATTR, ['-h', `--restore=${scratch}`], { cwd: root, maxBuffer: 16 << 20 });
    } catch (err) {
      const stderr = String((err as { stderr?: unknown }).stderr ?? '');
      // ENOTSUP: the file system has no xattrs (umoci warns and goes on). ENOENT: a later
      // entry of the layer removed the path (a whiteout, a dir replaced by a file).
      const failures = stderr.split('\n').filter((l) => l.trim() !== '' && !l.includes('Operation not supported') && !l.includes('No such file or directory'));
      if (failures.length > 0) {
        throw new AloftError('INTERNAL', `Cannot unpack layer ${layer} as setting its xattrs must succeed: got ${failures.slice(0, 3).join('; ')}`, { cause: err, details: { layer } });
      }
    } finally {
      await rm(scratch, { force: true });
    }
    this.pending.clear();
  }

  /**
   * Removes the xattrs of kept directories that their new entry does not set, leaving
   * the names umoci never touches. One getfattr run per 1000 directories; a setfattr -x
   * per xattr removed (lower directories with xattrs re-declared without are rare).
   */
  private async clearKept(root: string, layer: string): Promise<void> {
    const dirs = [...this.kept].map((rel) => (rel === '' ? '.' : `./${rel}`));
    this.kept.clear();
    if (GETFATTR === undefined || SETFATTR === undefined) return;
    for (let i = 0; i < dirs.length; i += 1000) {
      const { stdout } = await run(GETFATTR, ['-h', '-m', '-', '--absolute-names', '-e', 'hex', '-d', '--', ...dirs.slice(i, i + 1000)], { cwd: root, maxBuffer: 64 << 20 }).catch(
        (err: { stdout?: string }) => ({ stdout: err.stdout ?? '' }),
      );
      let rel: string | undefined;
      for (const line of stdout.split('\n')) {
        if (line.startsWith('# file: ')) {
          rel = unquote(line.slice(8)).replace(/^\.\/?/, '');
          continue;
        }
        const eq = line.indexOf('=');
        if (rel === undefined || eq < 0) continue;
        const name = unquote(line.slice(0, eq));
        const next = this.pending.get(rel);
        if (!isAppliedXattr(name) || next?.some(([n]) => n === name)) continue;
        await run(SETFATTR, ['-h', '-x', name, '--', rel === '' ? '.' : `./${rel}`], { cwd: root }).catch((err: unknown) => {
          throw new AloftError('INTERNAL', `Cannot unpack layer ${layer} as clearing xattr ${name} of '${rel}' must succeed: got ${(err as Error).message}`, { cause: err, details: { layer } });
        });
      }
    }
  }
}

/** Undoes getfattr's octal escapes. */
function unquote(text: string): string {
  return Buffer.from(text.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))), 'latin1').toString('utf8');
}

/** getfattr's quoting, which setfattr --restore undoes: octal escapes for the unsafe. */
function quote(text: string): string {
  let out = '';
  for (const byte of Buffer.from(text)) {
    const safe = byte > 0x20 && byte < 0x7f && byte !== 0x5c && byte !== 0x3d;
    out += safe ? String.fromCharCode(byte) : `\\${byte.toString(8).padStart(3, '0')}`;
  }
  return out;
}
