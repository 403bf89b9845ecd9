import { randomBytes } from 'node:crypto';
import { chmod, lstat, mkdir, readdir, realpath, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join } from 'node:path';
import { execCommand, mustRun, type CommandOptions, type CommandRunner } from '../lib/command.ts';
import { AloftError } from '../lib/errors.ts';

/** How buildExt4Image sizes and makes an image. */
export interface Ext4ImageOptions {
  /** Free bytes left for the Machine to write; default max(64 MiB, 25% of the content). */
  headroomBytes?: number;
  /** Free inodes: one per this many bytes of headroom (default 8 KiB, twice mkfs's usual density). */
  bytesPerFreeInode?: number;
  /** The image file's mode, set before it appears (e.g. 0o444 for a shared base); default 0o644. */
  mode?: number;
  /** Filesystem label (at most 16 bytes). */
  label?: string;
  /** Runs mkfs.ext4 and debugfs; tests wrap it. Default: execFile. */
  run?: CommandRunner;
}

/** What buildExt4Image made. */
export interface Ext4ImageResult {
  /** The image file's size. */
  bytes: number;
  /** The inode count it was made with (-N). */
  inodes: number;
  /** What the root's content measured (files rounded to blocks, directories, symlinks). */
  contentBytes: number;
}

/** What a tree measures, for sizing its image. */
export interface TreeMeasure {
  /** Bytes of blocks the content needs: file data rounded up to blocks, directory blocks, long symlinks. */
  bytes: number;
  /** Inodes the content needs (hard links counted once). */
  inodes: number;
}

const BLOCK = 4096;
const INODE_SIZE = 256;
const MIB = 1 << 20;
// Inodes 1–10 are the filesystem's own, 11 is lost+found.
const RESERVED_INODES = 11;
// mkfs -d writes a whole tree; 3 GB images took ~10 s here, so minutes mean a hung disk.
const MKFS: Omit<CommandOptions, 'errorCode'> = { timeoutMs: 10 * 60_000 };
const QUICK: Omit<CommandOptions, 'errorCode'> = { timeoutMs: 60_000 };

/**
 * Builds an ext4 filesystem image of `rootDir` at `outFile` with `mkfs.ext4 -d`, which
 * copies the tree (owners, modes, setuid bits, symlinks, hard links, xattrs, times)
 * without mounting anything. The image holds the content plus `headroomBytes` free and
 * enough inodes for that headroom. Written to a temp file beside `outFile` and renamed,
 * so a half-built image is never visible; on failure nothing is left. Needs e2fsprogs
 * and read access to every file (root, for an image's root).
 */
export async function buildExt4Image(rootDir: string, outFile: string, options: Ext4ImageOptions = {}): Promise<Ext4ImageResult> {
  if (!isAbsolute(rootDir)) throw invalid('rootDir', 'an absolute path', rootDir);
  if (!isAbsolute(outFile)) throw invalid('outFile', 'an absolute path', outFile);
  const headroomOpt = options.headroomBytes;
  if (headroomOpt !== undefined && !(Number.isSafeInteger(headroomOpt) && headroomOpt >= 0)) throw invalid('headroomBytes', 'a non-negative integer', String(headroomOpt));
  const perInode = options.bytesPerFreeInode ?? 8192;
  if (!(Number.isSafeInteger(perInode) && perInode >= 1024)) throw invalid('bytesPerFreeInode', 'an integer of at least 1024', String(perInode));
  if (options.label !== undefined && (Buffer.byteLength(options.label) > 16 || /[\0\n]/.test(options.label))) throw invalid('label', 'at most 16 bytes', options.label);
  if (options.mode !== undefined && !(Number.isInteger(options.mode) && options.mode >= 0 && options.mode <= 0o777)) throw invalid('mode', 'a permission mode (0 to 0o777)', String(options.mode));
  const root = await realpath(rootDir).catch(() => undefined);
  if (root === undefined || !(await stat(root)).isDirectory()) throw invalid('rootDir', 'an existing directory', rootDir);
  const run = options.run ?? execCommand;

  const content = await measureTree(root);
  const headroom = headroomOpt ?? Math.max(64 * MIB, Math.ceil(content.bytes / 4));
  const inodes = content.inodes + RESERVED_INODES + Math.ceil(headroom / perInode);
  let bytes = imageBytes(content.bytes + headroom, inodes);
  const rootStat = await stat(root);
  await mkdir(dirname(outFile), { recursive: true });
  const tmp = join(dirname(outFile), `.${basename(outFile)}.tmp-${randomBytes(6).toString('hex')}`);
  try {
    // The estimate has slack, but xattrs and huge directories are not measured (Node
    // cannot list xattrs): when mkfs runs out of room, grow and try again.
    for (let attempt = 0; ; attempt++) {
      const args = ['-q', '-F', '-t', 'ext4', '-b', String(BLOCK), '-I', String(INODE_SIZE), '-N', String(inodes), '-m', '0'];
      // nodiscard: discarding a fresh sparse file only punches holes it already has.
      args.push('-E', `nodiscard,root_owner=${rootStat.uid}:${rootStat.gid}`);
      if (options.label !== undefined) args.push('-L', options.label);
      args.push('-d', root, tmp, `${bytes / 1024}k`);
      const result = await run('mkfs.ext4', args, { ...MKFS, errorCode: 'ROOTFS_FAILED' });
      if (result.code === 0) break;
      await rm(tmp, { force: true });
      if (attempt < 2 && /no space|could not allocate|ext2fs_mkdir/i.test(result.stderr)) {
        bytes = roundUp(Math.ceil(bytes * 1.5), MIB);
        continue;
      }
      throw new AloftError('ROOTFS_FAILED', `Cannot build ext4 image ${outFile} as mkfs.ext4 must succeed: got exit ${result.code}: ${result.stderr.trim().slice(-1000)}`, {
        details: { rootDir, exitCode: result.code },
      });
    }
    // mkfs gives the root directory 0755 whatever the source's mode is.
    const mode = rootStat.mode & 0o7777;
    if (mode !== 0o755) await mustRun(run, 'debugfs', ['-w', '-R', `set_inode_field / mode 0${(0o40000 | mode).toString(8)}`, tmp], { ...QUICK, errorCode: 'ROOTFS_FAILED' });
    await chmod(tmp, options.mode ?? 0o644);
    await rename(tmp, outFile);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  return { bytes: (await stat(outFile)).size, inodes, contentBytes: content.bytes };
}

/**
 * Measures what `root` needs on ext4 with 4 KiB blocks: file data rounded up to blocks
 * (apparent sizes, an upper bound for sparse files), extent tree blocks for big files,
 * directory blocks from their entries, symlinks too long to sit in the inode. Hard
 * links count once. Never follows symlinks.
 */
export async function measureTree(root: string): Promise<TreeMeasure> {
  const seen = new Set<string>();
  let bytes = 0;
  let inodes = 0;
  const pending = [root];
  for (let dir = pending.pop(); dir !== undefined; dir = pending.pop()) {
    inodes++;
    const entries = await readdir(dir, { withFileTypes: true });
    // ".", ".." and each entry: an 8-byte header and the name, 4-byte aligned.
    let dirBytes = 24;
    for (const entry of entries) {
      dirBytes += 8 + roundUp(Buffer.byteLength(entry.name), 4);
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        pending.push(path);
        continue;
      }
      const st = await lstat(path);
      if (st.nlink > 1) {
        const key = `${st.dev}:${st.ino}`;
        if (seen.has(key)) continue;
        seen.add(key);
      }
      inodes++;
      if (st.isFile()) {
        const blocks = Math.ceil(st.size / BLOCK);
        // Four extents fit in the inode; beyond that one index block per ~340 extents of up to 128 MiB.
        bytes += (blocks + (blocks > 4 * 32768 ? Math.ceil(blocks / (340 * 32768)) + 1 : 0)) * BLOCK;
      } else if (st.isSymbolicLink() && st.size >= 60) {
        bytes += BLOCK;
      }
    }
    const dirBlocks = Math.max(1, Math.ceil(dirBytes / BLOCK));
    // Directories over one block get an htree index block.
    bytes += (dirBlocks > 1 ? dirBlocks + 1 : dirBlocks) * BLOCK;
  }
  return { bytes, inodes };
}

/** The image size for `dataBytes` of content and free space and `inodes` inodes: metadata, journal, slack. */
function imageBytes(dataBytes: number, inodes: number): number {
  const base = dataBytes + inodes * INODE_SIZE;
  // Per 128 MiB group: bitmaps and descriptors; plus reserved GDT blocks for growth and 2% slack.
  const groups = Math.ceil(base / (128 * MIB));
  let bytes = roundUp(Math.ceil(base * 1.02) + groups * 4 * BLOCK + 4 * MIB, MIB);
  for (let i = 0; i < 3; i++) bytes = roundUp(Math.ceil(base * 1.02) + groups * 4 * BLOCK + 4 * MIB + journalBytes(bytes), MIB);
  return bytes;
}

/** The journal mkfs.ext4 makes for a filesystem of `bytes` (ext2fs_default_journal_size, 4 KiB blocks). */
function journalBytes(bytes: number): number {
  const blocks = bytes / BLOCK;
  const table: [number, number][] = [
    [2048, 0],
    [32768, 1024],
    [256 * 1024, 4096],
    [512 * 1024, 8192],
    [4096 * 1024, 16384],
    [8192 * 1024, 32768],
    [16384 * 1024, 65536],
    [32768 * 1024, 131072],
  ];
  for (const [limit, journal] of table) if (blocks < limit) return journal * BLOCK;
  return 262144 * BLOCK;
}

function roundUp(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}

function invalid(field: string, rule: string, got: string): AloftError {
  return new AloftError('INVALID_ARGUMENT', `Cannot build ext4 image as '${field}' must be ${rule}: got ${JSON.stringify(got.slice(0, 200))}`);
}
