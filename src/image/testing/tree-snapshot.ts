// What a test compares between two unpacked root filesystems. Not part of the public face.
import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * One line per path under `root` (root itself as "."): type, mode (with setuid, setgid,
 * sticky), uid, gid, size and sha256 for files, target for symlinks, mtime to the
 * millisecond, xattrs (all namespaces, hex, via getfattr without following links) and the
 * hard-link group (the first path, in sorted order, of the inode). Sorted by path.
 */
export async function snapshotTree(root: string): Promise<Map<string, string>> {
  const xattrs = await readXattrs(root);
  const rows = new Map<string, { line: string; ino: string }>();
  const walk = async (rel: string): Promise<void> => {
    const path = rel === '.' ? root : join(root, rel);
    const st = await lstat(path);
    const type = st.isDirectory() ? 'dir' : st.isFile() ? 'file' : st.isSymbolicLink() ? 'symlink' : st.isFIFO() ? 'fifo' : st.isCharacterDevice() ? 'char' : st.isBlockDevice() ? 'block' : 'other';
    let what = '';
    if (st.isFile()) what = `size=${st.size} sha256=${createHash('sha256').update(await readFile(path)).digest('hex')}`;
    if (st.isSymbolicLink()) what = `target=${await readlink(path)}`;
    const mode = (st.mode & 0o7777).toString(8).padStart(4, '0');
    const line = `${type} mode=${mode} uid=${st.uid} gid=${st.gid} mtime=${Math.floor(st.mtimeMs / 1000)}.${String(Math.floor(st.mtimeMs % 1000)).padStart(3, '0')} ${what} xattrs=${xattrs.get(rel) ?? '-'}`;
    rows.set(rel, { line, ino: st.isDirectory() ? '' : `${st.ino}` });
    if (st.isDirectory()) for (const name of (await readdir(path)).sort()) await walk(rel === '.' ? name : `${rel}/${name}`);
  };
  await walk('.');
  const groups = new Map<string, string>();
  const out = new Map<string, string>();
  for (const rel of [...rows.keys()].sort()) {
    const { line, ino } = rows.get(rel)!;
    if (ino !== '' && !groups.has(ino)) groups.set(ino, rel);
    out.set(rel, ino === '' ? line : `${line} links=${groups.get(ino)}`);
  }
  return out;
}

/** Every xattr under `root` by relative path, "name=0xhex,…" sorted, from one getfattr run. */
async function readXattrs(root: string): Promise<Map<string, string>> {
  const { stdout } = await run('getfattr', ['-R', '-P', '-h', '-d', '-m', '-', '-e', 'hex', '--absolute-names', root], { maxBuffer: 256 << 20 }).catch((err: { stdout?: string }) => ({ stdout: err.stdout ?? '' }));
  const out = new Map<string, string[]>();
  let current: string | undefined;
  for (const line of stdout.split('\n')) {
    if (line.startsWith('# file: ')) {
      const abs = unquote(line.slice(8));
      current = abs === root ? '.' : abs.slice(root.length + 1);
      out.set(current, []);
    } else if (line.includes('=') && current !== undefined) {
      out.get(current)!.push(unquote(line));
    }
  }
  return new Map([...out].map(([k, v]) => [k, v.sort().join(',')]));
}

function unquote(text: string): string {
  return Buffer.from(text.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))), 'latin1').toString('utf8');
}
