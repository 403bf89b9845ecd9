import { execFile } from 'node:child_process';
import { chmodSync, chownSync, closeSync, constants, fchmodSync, fchownSync, futimesSync, lchownSync, linkSync, lstatSync, lutimesSync, mkdirSync, openSync, symlinkSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { lstat, lutimes, mkdir, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import type { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { extract, type Header } from 'tar-stream';
import { AloftError, isAloftError } from '../lib/errors.ts';
import { decompress } from './decompress.ts';
import { quoteName as quote, UnpackBudget, type UnpackLimits } from './unpack-limits.ts';
import { keepBinaryXattrs, XattrBatch, xattrsOf } from './xattrs.ts';

const run = promisify(execFile);

/** A tar entry as tar-stream yields it: its header, then its bytes. */
type Entry = AsyncIterable<unknown> & { header: Header };

const WHITEOUT = '.wh.';
const OPAQUE = '.wh..wh..opq';

/** Options for applying one layer. */
export interface UnpackLayerOptions {
  /** The layer's digest, named in every error. */
  digest: string;
  /** Create device nodes instead of rejecting them (never for untrusted images). */
  allowDevices?: boolean;
  /** Apply the entries' uid/gid; default: when running as root. */
  chown?: boolean;
  /** Limits for this layer alone when no `budget` is given; default DEFAULT_UNPACK_LIMITS. */
  limits?: Partial<UnpackLimits>;
  /** The image's budget, shared by its layers so per-image limits span them all. */
  budget?: UnpackBudget;
}

/**
 * Applies one layer (a tar: plain, gzip or zstd, told by its bytes) on top of `root`,
 * which holds the layers below it. Follows the OCI layer rules as umoci applies them:
 * entries replace what is there, `.wh.<name>` deletes a lower entry, `.wh..wh..opq`
 * empties a directory of its lower content; neither touches what this layer wrote.
 * Metadata as umoci: owner, mode (setuid, setgid, sticky kept), mtime (atime = mtime)
 * on everything but hard links, symlinks via lchown/lutimes; PAX `SCHILY.xattr.*`
 * (see xattrs.ts for the names left out); a directory keeps the mtime its entry gave it
 * (or had before the layer) after children are added or removed.
 *
 * Safety: the layer is untrusted. Nothing is ever written outside `root`: names with
 * ".." or a leading "/" are refused, every parent directory is checked with lstat so no
 * write goes through a symlink (a symlink is only ever created, never followed), hard
 * links must point inside the root, and device nodes are refused unless `allowDevices`.
 * Limits (unpack-limits.ts) bound bytes, entries and name lengths; they are checked as
 * the layer streams, before the bytes or entry that would pass one are written.
 * Each refusal is an IMAGE_UNSAFE error naming the layer and the entry; the caller owns
 * `root` and throws it away on error.
 */
export async function unpackLayer(root: string, layer: Readable, options: UnpackLayerOptions): Promise<void> {
  keepBinaryXattrs();
  const budget = options.budget ?? new UnpackBudget(options.limits);
  const state = new LayerState(root, options, budget);
  await state.start();
  const tar = extract();
  const input = await decompress(layer, `layer ${options.digest}`);
  const meter = budget.meter(options.digest, () => state.lastEntry);
  input.on('error', (err) => tar.destroy(err));
  meter.on('error', (err) => tar.destroy(err));
  input.pipe(meter).pipe(tar);
  try {
    for await (const entry of tar) {
      await state.apply(entry);
      // Drain what apply did not read (dirs, links, whiteouts) so the next entry comes.
      entry.resume();
    }
  } catch (err) {
    input.destroy();
    meter.destroy();
    tar.destroy();
    if (isAloftError(err)) throw err;
    if ((err as NodeJS.ErrnoException).syscall !== undefined) {
      // The file system failed us (ENOSPC, EIO…): the host's fault, not the image's.
      throw new AloftError('INTERNAL', `Cannot unpack layer ${options.digest} as writing to ${root} must succeed: got ${(err as Error).message}`, {
        cause: err,
        details: { layer: options.digest },
      });
    }
    throw new AloftError('IMAGE_INVALID', `Cannot unpack layer ${options.digest} as it must be a valid tar archive: got ${(err as Error).message}`, {
      cause: err,
      details: { layer: options.digest },
    });
  }
  await state.finish();
}

/** What one layer has done so far: needed for opaque dirs and directory mtimes. */
class LayerState {
  /** Relative paths this layer created, which an opaque marker must keep. */
  private readonly created = new Set<string>();
  /** Directories' mtimes to set once the layer is done: their entry's, or what they had. */
  private readonly dirTimes = new Map<string, number>();
  /** Parent directories known to be real directories (not symlinks) in this layer. */
  private readonly verified = new Set<string>();
  private readonly xattrs = new XattrBatch();
  private readonly chownEntries: boolean;
  private readonly limits: Readonly<UnpackLimits>;
  private entries = 0;
  /** The entry being applied or last applied: where a stream limit was passed. */
  lastEntry: string | undefined;

  constructor(
    private readonly root: string,
    private readonly options: UnpackLayerOptions,
    private readonly budget: UnpackBudget,
  ) {
    this.chownEntries = options.chown ?? process.getuid?.() === 0;
    this.limits = budget.limits;
  }

  /**
   * An empty root is a first layer's: its mtime starts at the epoch unless the layer's
   * "./" entry says otherwise, as umoci does (images rarely give one; "now" would make
   * every unpack differ).
   */
  async start(): Promise<void> {
    if ((await readdir(this.root)).length === 0) this.dirTimes.set(this.root, 0);
  }

  async apply(entry: Entry): Promise<void> {
    const header = entry.header;
    this.lastEntry = header.name;
    if (++this.entries > this.limits.maxLayerEntries) {
      throw new AloftError('IMAGE_UNSAFE', `Cannot unpack layer ${this.options.digest} as it must have at most ${this.limits.maxLayerEntries} tar entries: got more at entry ${quote(header.name)}`, {
        details: { layer: this.options.digest, entry: header.name },
      });
    }
    this.checkNames(header);
    const parts = this.split(header.name, header.name);
    const base = parts.at(-1);
    if (base === undefined) return this.applyRoot(header);
    const parents = parts.slice(0, -1);
    if (base === OPAQUE) return this.opaque(parents, header.name);
    if (base.startsWith(WHITEOUT)) {
      // Other ".wh..wh.*" names are aufs metadata (hard link stores); they carry nothing.
      if (base.startsWith(`${WHITEOUT}${WHITEOUT}`)) return;
      return this.whiteout(parents, base.slice(WHITEOUT.length), header.name);
    }
    const type = header.type ?? 'file';
    if (type === 'character-device' || type === 'block-device') {
      if (!this.options.allowDevices) {
        throw this.unsafe(header.name, 'not be a device node', `a ${type} ${header.devmajor ?? 0}:${header.devminor ?? 0}`);
      }
    }
    this.budget.chargeEntry(this.options.digest, header.name);
    // The declared size is checked up front so a bomb is refused before any byte lands;
    // writeFile still counts what it writes.
    if (type === 'file' || type === 'contiguous-file') this.budget.checkBytes(this.options.digest, header.name, header.size ?? 0);
    await this.ensureParents(parents, header.name, true);
    const rel = parts.join('/');
    const path = join(this.root, rel);
    const mtime = mtimeOf(header);
    // Each kind is created first and only on EEXIST is the path cleared and the creation
    // tried again: O_EXCL, mkdir, symlink and link never follow or overwrite what is
    // there, so this is as safe as clearing first and saves a lstat per entry. The
    // calls are synchronous: each is a short in-memory syscall, and a thread-pool round
    // trip per call costs more than the call (this is the unpack's hot path).
    switch (type) {
      case 'file':
      case 'contiguous-file':
        await this.writeFile(path, entry, header);
        break;
      case 'directory':
        if (!(await this.create(path, true, () => mkdirSync(path, { mode: 0o700 })))) this.xattrs.keep(rel);
        this.setOwnerAndMode(path, header);
        this.dirTimes.set(path, mtime);
        break;
      case 'symlink':
        // The target is only data: it is never followed while unpacking.
        await this.create(path, false, () => symlinkSync(header.linkname ?? '', path));
        if (this.chownEntries) lchownSync(path, header.uid ?? 0, header.gid ?? 0);
        lutimesSync(path, mtime, mtime);
        break;
      case 'link':
        await this.hardlink(path, rel, header);
        break;
      case 'fifo':
      case 'character-device':
      case 'block-device': {
        await this.clear(path, false);
        const kind = type === 'fifo' ? ['p'] : [type === 'block-device' ? 'b' : 'c', String(header.devmajor ?? 0), String(header.devminor ?? 0)];
        await run('mknod', [path, ...kind]);
        this.setOwnerAndMode(path, header);
        lutimesSync(path, mtime, mtime);
        break;
      }
      default:
        throw new AloftError('IMAGE_INVALID', `Cannot unpack layer ${this.options.digest} as entry ${quote(header.name)} must be a file, directory, link or device: got type ${String(type)}`, {
          details: { layer: this.options.digest, entry: header.name },
        });
    }
    // Hard links share their target's inode and metadata: umoci applies none to them.
    this.xattrs.set(rel, type === 'link' ? [] : xattrsOf(header));
    // The path and its ancestors are this layer's: whiteouts and opaque markers keep them.
    for (let p = rel; p !== '.' && !this.created.has(p); p = dirname(p)) this.created.add(p);
  }

  /**
   * Applies the layer's xattrs in one setfattr run, then sets directory mtimes last:
   * creating and removing their children changed them. lutimes: never through a link.
   */
  async finish(): Promise<void> {
    await this.xattrs.apply(this.root, join(tmpdir(), `aloft-xattrs-${randomBytes(6).toString('hex')}`), this.options.digest);
    for (const [path, time] of this.dirTimes) {
      await lutimes(path, time, time).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw err;
      });
    }
  }

  /** Refuses names and link targets longer than the limits, before any is used. */
  private checkNames(header: Header): void {
    const { maxPathBytes, maxNameBytes, maxLinkTargetBytes } = this.limits;
    const pathBytes = Buffer.byteLength(header.name);
    if (pathBytes > maxPathBytes) throw this.unsafe(header.name, `have a path of at most ${maxPathBytes} bytes`, `${pathBytes} bytes`);
    for (const part of header.name.split('/')) {
      // A whiteout names an entry of up to maxNameBytes, plus its ".wh." prefix.
      const max = part.startsWith(WHITEOUT) ? maxNameBytes + WHITEOUT.length : maxNameBytes;
      const bytes = Buffer.byteLength(part);
      if (bytes > max) throw this.unsafe(header.name, `have path components of at most ${max} bytes`, `a component of ${bytes} bytes`);
    }
    const linkBytes = Buffer.byteLength(header.linkname ?? '');
    if (linkBytes > maxLinkTargetBytes) throw this.unsafe(header.name, `have a link target of at most ${maxLinkTargetBytes} bytes`, `${linkBytes} bytes`);
  }

  /** Splits an entry or link name into clean components, refusing escapes. */
  private split(name: string, entryName: string): string[] {
    if (name.startsWith('/')) throw this.unsafe(entryName, 'be a relative path inside the root', `an absolute path ${quote(name)}`);
    const parts = name.split('/').filter((p) => p !== '' && p !== '.');
    if (parts.includes('..')) throw this.unsafe(entryName, 'stay inside the root', `a path with '..'`);
    return parts;
  }

  /** The "./" entry: the layer's metadata for the root directory itself. */
  private async applyRoot(header: Header): Promise<void> {
    if ((header.type ?? 'file') !== 'directory') throw this.unsafe(header.name, 'be a directory when it names the root', `a ${header.type ?? 'file'}`);
    this.setOwnerAndMode(this.root, header);
    this.dirTimes.set(this.root, mtimeOf(header));
    this.xattrs.set('', xattrsOf(header));
    this.xattrs.keep('');
  }

  /**
   * Walks the parent directories from the root with lstat. A symlink anywhere is an
   * escape attempt (or a layer we cannot apply safely) and is refused; missing ones are
   * created when `create`, else the walk reports false.
   */
  private async ensureParents(parents: string[], entryName: string, create: boolean): Promise<boolean> {
    // Fast path for the common case (a sibling of the last entry): ancestors are verified
    // root-first and forgotten all at once (forgetUnder), so a verified parent means all
    // of its ancestors are too, and one Set lookup stands for the whole walk.
    if (parents.length > 0) {
      const parentRel = parents.join('/');
      if (this.verified.has(parentRel)) {
        const parentPath = join(this.root, parentRel);
        if (!this.dirTimes.has(parentPath)) await this.rememberTime(parentPath);
        return true;
      }
    }
    let path = this.root;
    let rel = '';
    for (const part of parents) {
      path = join(path, part);
      rel = rel === '' ? part : `${rel}/${part}`;
      if (this.verified.has(rel)) continue;
      const st = await lstat(path).catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return undefined;
        throw err;
      });
      if (st === undefined) {
        if (!create) return false;
        // Implicit parents count too: one deep name must not create thousands for free.
        this.budget.chargeEntry(this.options.digest, entryName);
        await mkdir(path, { mode: 0o755 });
        this.created.add(rel);
        this.verified.add(rel);
        continue;
      }
      if (st.isSymbolicLink()) throw this.unsafe(entryName, 'not be written through a symlink', `'${rel}' is a symlink`);
      if (!st.isDirectory()) throw this.unsafe(entryName, 'have directories as parents', `'${rel}' is not a directory`);
      this.verified.add(rel);
    }
    // The immediate parent (checked above) is about to change: keep its mtime, as umoci
    // restores it after each entry.
    if (!this.dirTimes.has(path)) await this.rememberTime(path);
    return true;
  }

  /** Records a directory's mtime before the layer first changes it, unless already known. */
  private async rememberTime(path: string): Promise<void> {
    if (this.dirTimes.has(path)) return;
    const st = await lstat(path).catch(() => undefined);
    if (st?.isDirectory()) this.dirTimes.set(path, st.mtimeMs / 1000);
  }

  /**
   * Runs `make`; when something is in the way (EEXIST), clears it and runs it again. A
   * directory in the way of a directory stays (`keepDirectory`), as the layer rules say:
   * then it returns false.
   */
  private async create(path: string, keepDirectory: boolean, make: () => void): Promise<boolean> {
    try {
      make();
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    if (keepDirectory && lstatSync(path).isDirectory()) return false;
    await this.clear(path, false);
    make();
    return true;
  }

  /** Removes what is at `path` unless a directory stays a directory. Never follows links. */
  private async clear(path: string, keepDirectory: boolean): Promise<void> {
    const st = await lstat(path).catch(() => undefined);
    if (st === undefined || (keepDirectory && st.isDirectory())) return;
    // What goes away takes what is known of it (verified parents, times, xattrs) along.
    this.forgetUnder(path, st.isDirectory());
    await rm(path, { recursive: true, force: true });
  }

  /** Drops what is known of what is at or under `path`, which is being removed. */
  private forgetUnder(path: string, isDirectory = true): void {
    // A file has nothing below it: only its own queued xattrs go (the common case of a
    // file replacing a file stays cheap).
    this.xattrs.forget(relative(this.root, path), isDirectory);
    if (!isDirectory) return;
    this.verified.clear();
    for (const dir of this.dirTimes.keys()) if (dir === path || dir.startsWith(`${path}/`)) this.dirTimes.delete(dir);
  }

  private async writeFile(path: string, entry: Entry, header: Header): Promise<void> {
    // O_EXCL|O_NOFOLLOW: never writes into or through what is there (see create).
    let fd = -1;
    await this.create(path, false, () => {
      fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
    });
    try {
      for await (const chunk of entry) {
        const data = chunk as Buffer;
        this.budget.chargeBytes(this.options.digest, header.name, data.length);
        for (let at = 0; at < data.length; ) at += writeSync(fd, data, at);
      }
      if (this.chownEntries) fchownSync(fd, header.uid ?? 0, header.gid ?? 0);
      // chmod after chown: chown clears setuid/setgid bits.
      fchmodSync(fd, (header.mode ?? 0o644) & 0o7777);
      futimesSync(fd, mtimeOf(header), mtimeOf(header));
    } finally {
      closeSync(fd);
    }
  }

  private async hardlink(path: string, rel: string, header: Header): Promise<void> {
    const linkname = header.linkname ?? '';
    let parts: string[];
    try {
      parts = this.split(linkname, header.name);
    } catch {
      throw this.unsafe(header.name, 'link to a path inside the root', `link target ${quote(linkname)}`);
    }
    if (parts.length === 0) throw this.unsafe(header.name, 'link to a file inside the root', 'the root itself');
    if (parts.join('/') === rel) {
      throw new AloftError('IMAGE_INVALID', `Cannot unpack layer ${this.options.digest} as hard link ${quote(header.name)} must point to another entry: got itself`, {
        details: { layer: this.options.digest, entry: header.name },
      });
    }
    // link(2) follows symlinks in the target's parents, so they get the same check.
    const exists = await this.ensureParents(parts.slice(0, -1), header.name, false);
    const target = join(this.root, ...parts);
    const st = exists ? await lstat(target).catch(() => undefined) : undefined;
    if (st === undefined) {
      throw new AloftError('IMAGE_INVALID', `Cannot unpack layer ${this.options.digest} as hard link ${quote(header.name)} must point to an existing entry: got ${quote(linkname)}`, {
        details: { layer: this.options.digest, entry: header.name },
      });
    }
    if (st.isDirectory()) throw this.unsafe(header.name, 'not hard-link a directory', quote(linkname));
    // Linux link(2) does not follow a final symlink: linking one links the symlink itself.
    await this.create(path, false, () => linkSync(target, path));
  }

  /** For directories (made or checked just now) and nodes: never a symlink here. */
  private setOwnerAndMode(path: string, header: Header): void {
    if (this.chownEntries) chownSync(path, header.uid ?? 0, header.gid ?? 0);
    chmodSync(path, (header.mode ?? 0o755) & 0o7777);
  }

  private async whiteout(parents: string[], name: string, entryName: string): Promise<void> {
    if (name === '' || name === '.' || name === '..') throw this.unsafe(entryName, 'whiten out an entry inside the root', quote(name));
    if (!(await this.ensureParents(parents, entryName, false))) return;
    const rel = [...parents, name].join('/');
    // What this layer wrote stays (umoci's upper paths): only lower content goes.
    if (this.created.has(rel)) {
      if ((await lstat(join(this.root, rel)).catch(() => undefined))?.isDirectory()) await this.prune(rel.split('/'));
      return;
    }
    const path = join(this.root, rel);
    this.forgetUnder(path);
    await rm(path, { recursive: true, force: true });
  }

  /** Empties a directory of everything lower layers put there; keeps this layer's. */
  private async opaque(dirParts: string[], entryName: string): Promise<void> {
    // A marker in a directory that does not exist does nothing (umoci neither).
    if (!(await this.ensureParents(dirParts, entryName, false))) return;
    // The marker is the dir's child: its own mtime is kept like any parent's.
    await this.rememberTime(join(this.root, ...dirParts));
    await this.prune(dirParts);
  }

  /** Removes everything under a directory that this layer did not write. */
  private async prune(rel: string[]): Promise<void> {
    for (const name of await readdir(join(this.root, ...rel))) {
      const child = [...rel, name];
      const path = join(this.root, ...child);
      if (!this.created.has(child.join('/'))) {
        this.forgetUnder(path);
        await rm(path, { recursive: true, force: true });
      } else if ((await lstat(path)).isDirectory()) {
        await this.prune(child);
      }
    }
  }

  private unsafe(entryName: string, rule: string, got: string): AloftError {
    return new AloftError('IMAGE_UNSAFE', `Cannot unpack layer ${this.options.digest} as entry ${quote(entryName)} must ${rule}: got ${got}`, {
      details: { layer: this.options.digest, entry: entryName },
    });
  }
}

/**
 * An entry's mtime in seconds: the PAX `mtime` record when there is one (it keeps the
 * fraction that Go's archive/tar writes and umoci applies), else the header's.
 */
function mtimeOf(header: Header): number {
  const pax = (header as Header & { pax?: Record<string, string> | null }).pax?.['mtime'];
  const exact = pax === undefined ? NaN : Number(pax);
  return Number.isFinite(exact) ? exact : (header.mtime?.getTime() ?? 0) / 1000;
}
