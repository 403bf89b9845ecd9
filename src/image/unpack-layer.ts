import { execFile } from 'node:child_process';
import { constants } from 'node:fs';
import { chmod, chown, lchown, link, lstat, lutimes, mkdir, open, readdir, rm, symlink, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { extract, type Header } from 'tar-stream';
import { AloftError, isAloftError } from '../lib/errors.ts';
import { decompress } from './decompress.ts';
import { quoteName as quote, UnpackBudget, type UnpackLimits } from './unpack-limits.ts';

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
 * Applies one layer (a tar, gzip-compressed or not) on top of `root`, which holds the
 * layers below it. Follows the OCI layer rules: entries replace what is there,
 * `.wh.<name>` deletes a lower entry, `.wh..wh..opq` empties a directory of its lower
 * content.
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
  const budget = options.budget ?? new UnpackBudget(options.limits);
  const state = new LayerState(root, options, budget);
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
  private readonly dirTimes = new Map<string, Date>();
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
    await this.clear(path, type === 'directory');
    switch (type) {
      case 'file':
      case 'contiguous-file':
        await this.writeFile(path, entry, header);
        break;
      case 'directory':
        await mkdir(path, { mode: 0o700 }).catch((err: NodeJS.ErrnoException) => {
          if (err.code !== 'EEXIST') throw err;
        });
        await this.setOwnerAndMode(path, header);
        this.dirTimes.set(path, header.mtime ?? new Date(0));
        break;
      case 'symlink':
        // The target is only data: it is never followed while unpacking.
        await symlink(header.linkname ?? '', path);
        if (this.chownEntries) await lchown(path, header.uid ?? 0, header.gid ?? 0);
        await lutimes(path, header.mtime ?? new Date(0), header.mtime ?? new Date(0));
        break;
      case 'link':
        await this.hardlink(path, header);
        break;
      case 'fifo':
      case 'character-device':
      case 'block-device': {
        const kind = type === 'fifo' ? ['p'] : [type === 'block-device' ? 'b' : 'c', String(header.devmajor ?? 0), String(header.devminor ?? 0)];
        await run('mknod', [path, ...kind]);
        await this.setOwnerAndMode(path, header);
        break;
      }
      default:
        throw new AloftError('IMAGE_INVALID', `Cannot unpack layer ${this.options.digest} as entry ${quote(header.name)} must be a file, directory, link or device: got type ${String(type)}`, {
          details: { layer: this.options.digest, entry: header.name },
        });
    }
    this.created.add(rel);
  }

  /** Sets directory mtimes last: creating their children changed them. */
  async finish(): Promise<void> {
    for (const [path, time] of this.dirTimes) await utimes(path, time, time);
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
    await this.setOwnerAndMode(this.root, header);
    this.dirTimes.set(this.root, header.mtime ?? new Date(0));
  }

  /**
   * Walks the parent directories from the root with lstat. A symlink anywhere is an
   * escape attempt (or a layer we cannot apply safely) and is refused; missing ones are
   * created when `create`, else the walk reports false.
   */
  private async ensureParents(parents: string[], entryName: string, create: boolean): Promise<boolean> {
    let path = this.root;
    for (const [i, part] of parents.entries()) {
      path = join(path, part);
      const st = await lstat(path).catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return undefined;
        throw err;
      });
      if (st === undefined) {
        if (!create) return false;
        // Implicit parents count too: one deep name must not create thousands for free.
        this.budget.chargeEntry(this.options.digest, entryName);
        await mkdir(path, { mode: 0o755 });
        this.created.add(parents.slice(0, i + 1).join('/'));
        continue;
      }
      const rel = parents.slice(0, i + 1).join('/');
      if (st.isSymbolicLink()) throw this.unsafe(entryName, 'not be written through a symlink', `'${rel}' is a symlink`);
      if (!st.isDirectory()) throw this.unsafe(entryName, 'have directories as parents', `'${rel}' is not a directory`);
    }
    return true;
  }

  /** Removes what is at `path` unless a directory stays a directory. Never follows links. */
  private async clear(path: string, keepDirectory: boolean): Promise<void> {
    const st = await lstat(path).catch(() => undefined);
    if (st === undefined || (keepDirectory && st.isDirectory())) return;
    await rm(path, { recursive: true, force: true });
  }

  private async writeFile(path: string, entry: Entry, header: Header): Promise<void> {
    // O_EXCL|O_NOFOLLOW: the path was cleared, so anything there now is a surprise.
    const file = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
    try {
      for await (const chunk of entry) {
        this.budget.chargeBytes(this.options.digest, header.name, (chunk as Buffer).length);
        await file.write(chunk as Buffer);
      }
      if (this.chownEntries) await file.chown(header.uid ?? 0, header.gid ?? 0);
      // chmod after chown: chown clears setuid/setgid bits.
      await file.chmod((header.mode ?? 0o644) & 0o7777);
      await file.utimes(header.mtime ?? new Date(0), header.mtime ?? new Date(0));
    } finally {
      await file.close();
    }
  }

  private async hardlink(path: string, header: Header): Promise<void> {
    const linkname = header.linkname ?? '';
    let parts: string[];
    try {
      parts = this.split(linkname, header.name);
    } catch {
      throw this.unsafe(header.name, 'link to a path inside the root', `link target ${quote(linkname)}`);
    }
    if (parts.length === 0) throw this.unsafe(header.name, 'link to a file inside the root', 'the root itself');
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
    await link(target, path);
  }

  private async setOwnerAndMode(path: string, header: Header): Promise<void> {
    if (this.chownEntries) await chown(path, header.uid ?? 0, header.gid ?? 0);
    await chmod(path, (header.mode ?? 0o755) & 0o7777);
  }

  private async whiteout(parents: string[], name: string, entryName: string): Promise<void> {
    if (name === '' || name === '.' || name === '..') throw this.unsafe(entryName, 'whiten out an entry inside the root', quote(name));
    if (!(await this.ensureParents(parents, entryName, false))) return;
    await rm(join(this.root, ...parents, name), { recursive: true, force: true });
  }

  /** Empties a directory of everything lower layers put there; keeps this layer's. */
  private async opaque(dirParts: string[], entryName: string): Promise<void> {
    await this.ensureParents(dirParts, entryName, true);
    const prune = async (rel: string[]): Promise<void> => {
      for (const name of await readdir(join(this.root, ...rel))) {
        const child = [...rel, name];
        const key = child.join('/');
        if (!this.created.has(key)) {
          await rm(join(this.root, ...child), { recursive: true, force: true });
        } else if ((await lstat(join(this.root, ...child))).isDirectory()) {
          await prune(child);
        }
      }
    };
    await prune(dirParts);
  }

  private unsafe(entryName: string, rule: string, got: string): AloftError {
    return new AloftError('IMAGE_UNSAFE', `Cannot unpack layer ${this.options.digest} as entry ${quote(entryName)} must ${rule}: got ${got}`, {
      details: { layer: this.options.digest, entry: entryName },
    });
  }
}
