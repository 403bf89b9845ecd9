// Deterministic multi-layer OCI images for tests and benchmarks: the same options give
// the same bytes. Not part of the public face.
import { spawnSync } from 'node:child_process';
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { AloftError } from '../../lib/errors.ts';
import type { Compression } from '../decompress.ts';
import { sha256Digest } from '../digest.ts';
import { MEDIA_TYPES } from '../media-types.ts';
import { hostPlatform } from '../platform.ts';
import { addToLayout } from '../write-layout.ts';
import { TAR_END, tarEntry, type TarEntry } from './tar-writer.ts';

/** What a synthetic image exercises beyond plain files and directories. */
export interface SyntheticFeatures {
  whiteouts: boolean;
  opaqueDirs: boolean;
  hardlinks: boolean;
  symlinks: boolean;
  xattrs: boolean;
  /** setuid, setgid, sticky, 0000, read-only. */
  oddModes: boolean;
  /** Entries owned by users other than root. */
  owners: boolean;
  /** Varied mtimes (else all entries share one). */
  mtimes: boolean;
}

/** Options of writeSyntheticImage. */
export interface SyntheticImageOptions {
  tag?: string;
  /** Layers, bottom first; at least 1. */
  layers: number;
  /** Generated regular files across all layers (feature entries and host files come on top). */
  files: number;
  /** Generated file content across all layers, in bytes. */
  totalBytes: number;
  /** Per layer, cycled; default gzip. */
  compression?: Compression | Compression[];
  /** gzip level; default 6 (benchmarks use 1 to build faster). */
  gzipLevel?: number;
  /** Default: all on. */
  features?: Partial<SyntheticFeatures>;
  seed?: number;
  /** Real host files for the bottom layer ("distro-like"): these dirs, at most maxFiles files. */
  hostSample?: { dirs: string[]; maxFiles: number };
}

/** What writeSyntheticImage wrote. */
export interface SyntheticImage {
  path: string;
  tag: string;
  digest: string;
  /** Uncompressed tar bytes, all layers. */
  tarBytes: number;
  /** Compressed layer blobs, all layers. */
  blobBytes: number;
  /** Tar entries, all layers. */
  entries: number;
}

const ALL: SyntheticFeatures = { whiteouts: true, opaqueDirs: true, hardlinks: true, symlinks: true, xattrs: true, oddModes: true, owners: true, mtimes: true };
const BASE_TIME = 1_600_000_000;
const DIR_FANOUT = 40;

/** Writes the image into the OCI layout at `dir` (tag default "latest"). */
export async function writeSyntheticImage(dir: string, options: SyntheticImageOptions): Promise<SyntheticImage> {
  if (!Number.isInteger(options.layers) || options.layers < 1) {
    throw new AloftError('INVALID_ARGUMENT', `Cannot write synthetic image as 'layers' must be an integer of at least 1: got ${options.layers}`);
  }
  const features = { ...ALL, ...options.features };
  const rand = prng(options.seed ?? 1);
  const pool = contentPool(rand);
  const time = (offset: number): number => (features.mtimes ? BASE_TIME + offset : BASE_TIME);
  const layers: TarEntry[][] = Array.from({ length: options.layers }, () => []);
  const bottom = layers[0]!;
  bottom.push({ name: './', type: 'directory', mode: 0o755, mtime: time(1) });
  if (options.hostSample !== undefined) bottom.push(...(await hostEntries(options.hostSample.dirs, options.hostSample.maxFiles)));

  // Generated files, spread evenly over layers and over directories two levels deep.
  const perLayer = Math.ceil(options.files / options.layers);
  const mean = options.files > 0 ? options.totalBytes / options.files : 0;
  let made = 0;
  for (const [i, layer] of layers.entries()) {
    const count = Math.min(perLayer, options.files - made);
    const dirs = new Set<string>();
    for (let k = 0; k < count; k++, made++) {
      const d = `gen/l${i}/a${Math.floor(k / (DIR_FANOUT * DIR_FANOUT)) % DIR_FANOUT}/b${Math.floor(k / DIR_FANOUT) % DIR_FANOUT}`;
      for (const parent of parentsOf(d)) {
        if (dirs.has(parent)) continue;
        dirs.add(parent);
        layer.push({ name: `${parent}/`, type: 'directory', mode: 0o755, mtime: time(100 + i) });
      }
      // Mostly small files, a few large: the shape of real root filesystems.
      const size = Math.floor(rand() < 0.9 ? rand() * mean * 0.6 : rand() * mean * 10);
      const odd = features.oddModes && k % 97 === 5;
      layer.push({
        name: `${d}/f${k}.dat`,
        type: 'file',
        mode: odd ? 0o600 : k % 7 === 0 ? 0o755 : 0o644,
        ...(features.owners && k % 11 === 3 ? { uid: 1000 + (k % 5), gid: 1000 } : {}),
        mtime: time(1000 + (k % 5000)),
        body: pool(size),
      });
    }
  }
  addFeatures(layers, features, time, pool);

  const compressions = [options.compression ?? 'gzip'].flat();
  const blobs: Buffer[] = [];
  const descriptors: { mediaType: string; digest: string; size: number }[] = [];
  const diffIds: string[] = [];
  let tarBytes = 0;
  let entries = 0;
  for (const [i, layer] of layers.entries()) {
    const tar = Buffer.concat([...layer.flatMap(tarEntry), TAR_END]);
    tarBytes += tar.length;
    entries += layer.length;
    diffIds.push(sha256Digest(tar));
    const compression = compressions[i % compressions.length]!;
    const blob = compress(tar, compression, options.gzipLevel ?? 6);
    blobs.push(blob);
    const mediaType = compression === 'gzip' ? MEDIA_TYPES.ociLayerGzip : compression === 'zstd' ? MEDIA_TYPES.ociLayerZstd : MEDIA_TYPES.ociLayer;
    descriptors.push({ mediaType, digest: sha256Digest(blob), size: blob.length });
  }
  const platform = hostPlatform();
  const config = Buffer.from(
    JSON.stringify({
      created: new Date(BASE_TIME * 1000).toISOString(),
      architecture: platform.architecture,
      os: platform.os,
      config: { Cmd: ['/bin/sh'] },
      rootfs: { type: 'layers', diff_ids: diffIds },
    }),
  );
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.ociManifest,
      config: { mediaType: MEDIA_TYPES.ociConfig, digest: sha256Digest(config), size: config.length },
      layers: descriptors,
    }),
  );
  const tag = options.tag ?? 'latest';
  const digest = await addToLayout(dir, { manifest, blobs: [config, ...blobs], tag, platform });
  return { path: dir, tag, digest, tarBytes, blobBytes: blobs.reduce((n, b) => n + b.length, 0), entries };
}

/** The feature entries: a base set in layer 0 and its changes in layers 1 and 2. */
function addFeatures(layers: TarEntry[][], f: SyntheticFeatures, time: (o: number) => number, pool: (n: number) => Buffer): void {
  const base = layers[0]!;
  const file = (name: string, extra: Partial<TarEntry> = {}): TarEntry => ({ name, type: 'file', mode: 0o644, mtime: time(50), body: pool(100 + name.length * 13), ...extra });
  const dir = (name: string, extra: Partial<TarEntry> = {}): TarEntry => ({ name, type: 'directory', mode: 0o755, mtime: time(60), ...extra });
  base.push(dir('feat/', { mtime: time(7) }), file('feat/lower.txt'), file('feat/keep.txt'), file('feat/names/ünïcödé-名前.txt'));
  base.push(file(`feat/long/${'n'.repeat(120)}/${'m'.repeat(90)}.txt`));
  // Sub-second mtimes (PAX records), on a file and a directory.
  base.push(dir('feat/frac/', { mtime: time(20) + 0.25 }), file('feat/frac/f', { mtime: time(21) + 0.75 }));
  base.push(dir('late/x-parent-later/'), file('late/x-parent-later/child'), dir('late/', { mode: 0o711, mtime: time(9) }));
  if (f.symlinks) {
    base.push(
      { name: 'feat/rel', type: 'symlink', mode: 0o777, linkname: 'lower.txt', mtime: time(11), ...(f.owners ? { uid: 1000, gid: 1000 } : {}) },
      { name: 'feat/abs', type: 'symlink', mode: 0o777, linkname: '/etc/passwd', mtime: time(12) },
      { name: 'feat/dangling', type: 'symlink', mode: 0o777, linkname: 'nowhere/at/all', mtime: time(13) },
      { name: 'feat/long-target', type: 'symlink', mode: 0o777, linkname: `../${'t'.repeat(150)}`, mtime: time(14) },
      { name: 'feat/to-replace', type: 'symlink', mode: 0o777, linkname: 'keep.txt', mtime: time(15) },
    );
  }
  if (f.oddModes) {
    base.push(
      file('feat/suid', { mode: 0o4755 }),
      file('feat/sgid', { mode: 0o2755, ...(f.owners ? { gid: 50 } : {}) }),
      dir('feat/sticky/', { mode: 0o1777 }),
      file('feat/zero', { mode: 0o000 }),
      file('feat/readonly', { mode: 0o444 }),
      dir('feat/private/', { mode: 0o700 }),
      { name: 'feat/fifo', type: 'fifo', mode: 0o640, mtime: time(16) },
    );
  }
  if (f.owners) base.push(file('feat/owned', { uid: 12345, gid: 54321, mode: 0o640 }), dir('feat/owned-dir/', { uid: 65534, gid: 65534 }));
  if (f.xattrs) {
    // A v2 file capability granting cap_net_raw (bit 13), as `setcap cap_net_raw+ep` writes.
    const cap = Buffer.from([0x01, 0x00, 0x00, 0x02, 0x00, 0x20, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    base.push(
      file('feat/cap', { mode: 0o755, xattrs: { 'security.capability': cap } }),
      file('feat/xattr.txt', { xattrs: { 'user.text': Buffer.from('hello xattr'), 'user.bin': Buffer.from([0, 1, 2, 0xff, 0xfe, 0x80, 10, 61]), 'trusted.note': Buffer.from('t') } }),
      dir('feat/xdir/', { xattrs: { 'trusted.dirnote': Buffer.from('d1'), 'user.dir': Buffer.from('v1') } }),
      dir('feat/xdir2/', { xattrs: { 'user.gone': Buffer.from('cleared when re-declared'), 'user.stays': Buffer.from('1') } }),
      { name: 'feat/xlink', type: 'symlink', mode: 0o777, linkname: 'xattr.txt', mtime: time(17), xattrs: { 'trusted.linknote': Buffer.from('on the link') } },
      // Names aloft and umoci leave alone: host SELinux labels, overlayfs's own.
      file('feat/skipped-xattrs', { xattrs: { 'security.selinux': Buffer.from('system_u:object_r:bin_t:s0\0') } }),
    );
  }
  if (f.hardlinks) base.push(file('feat/hard-a', { mode: 0o750 }), { name: 'feat/hard-b', type: 'link', mode: 0o644, linkname: 'feat/hard-a', mtime: time(18) }, { name: 'feat/hard-c', type: 'link', mode: 0o644, linkname: 'feat/hard-a', mtime: time(18) });
  if (f.whiteouts || f.opaqueDirs) base.push(file('feat/gone.txt'), file('feat/gonedir/x'), file('feat/gonedir/sub/y'), file('feat/opq/a'), file('feat/opq/sub/b'), file('feat/again'));
  base.push(file('feat/tobedir'), dir('feat/tobefile/'), file('feat/tobefile/child'));

  const up = layers[1];
  if (up === undefined) return;
  // No 'feat/' entry: its mtime must survive the changes below.
  up.push(file('feat/added-in-upper', { mtime: time(70) }), file('feat/keep.txt', { mode: 0o600, mtime: time(71) }));
  up.push(dir('feat/tobedir/'), file('feat/tobedir/inside'), file('feat/tobefile', { mtime: time(72) }));
  if (f.symlinks) up.push(file('feat/to-replace', { mtime: time(73) }));
  if (f.whiteouts) {
    up.push({ name: 'feat/.wh.gone.txt', type: 'file', mode: 0o644, mtime: time(74) }, { name: 'feat/.wh.gonedir', type: 'file', mode: 0o644, mtime: time(74) });
    // Written, then whited out in the same layer: the new file stays (it is this layer's).
    up.push(file('feat/again', { mtime: time(75) }), { name: 'feat/.wh.again', type: 'file', mode: 0o644, mtime: time(75) });
  }
  if (f.opaqueDirs) up.push(dir('feat/opq/', { mode: 0o750, mtime: time(76) }), { name: 'feat/opq/.wh..wh..opq', type: 'file', mode: 0o644, mtime: time(76) }, file('feat/opq/new'));
  if (f.hardlinks) up.push({ name: 'feat/hard-to-lower', type: 'link', mode: 0o644, linkname: 'feat/lower.txt', mtime: time(77) });
  if (f.xattrs) {
    up.push(dir('feat/xdir/', { mode: 0o750, mtime: time(78), xattrs: { 'trusted.dirnote': Buffer.from('d2'), 'user.dir': Buffer.from('v2') } }));
    // Re-declared with fewer xattrs: the others are cleared, as umoci does.
    up.push(dir('feat/xdir2/', { mtime: time(79), xattrs: { 'user.stays': Buffer.from('2') } }));
  }

  const top = layers[2];
  if (top === undefined) return;
  top.push(file('feat/lower.txt', { mode: 0o664, mtime: time(80) }));
  if (f.whiteouts) top.push({ name: 'gen/l0/.wh.a0', type: 'file', mode: 0o644, mtime: time(81) });
}

function parentsOf(path: string): string[] {
  const parts = path.split('/');
  return parts.map((_, i) => parts.slice(0, i + 1).join('/'));
}

/** Real host files as entries: dirs, files, symlinks, hard links (by inode), sorted. */
async function hostEntries(dirs: string[], maxFiles: number): Promise<TarEntry[]> {
  const out: TarEntry[] = [];
  const inodes = new Map<string, string>();
  const seenDirs = new Set<string>();
  let files = 0;
  const add = async (path: string): Promise<void> => {
    if (files >= maxFiles) return;
    const st = await lstat(path);
    const name = path.replace(/^\/+/, '');
    const meta = { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: Math.floor(st.mtimeMs / 1000) };
    if (st.isDirectory()) {
      if (seenDirs.has(name)) return;
      seenDirs.add(name);
      out.push({ name: `${name}/`, type: 'directory', ...meta });
      for (const child of (await readdir(path)).sort()) await add(join(path, child));
    } else if (st.isSymbolicLink()) {
      out.push({ name, type: 'symlink', ...meta, linkname: await readlink(path) });
    } else if (st.isFile()) {
      const key = `${st.dev}:${st.ino}`;
      const first = st.nlink > 1 ? inodes.get(key) : undefined;
      if (first !== undefined) {
        out.push({ name, type: 'link', ...meta, linkname: first });
        return;
      }
      if (st.nlink > 1) inodes.set(key, name);
      files++;
      out.push({ name, type: 'file', ...meta, body: await readFile(path) });
    }
  };
  for (const dir of dirs) {
    // The dirs above each sampled one, with their real metadata.
    const parts = dir.split('/').filter(Boolean);
    for (let i = 1; i < parts.length; i++) {
      const parent = `/${parts.slice(0, i).join('/')}`;
      const name = parent.slice(1);
      if (seenDirs.has(name)) continue;
      seenDirs.add(name);
      const st = await lstat(parent);
      out.push({ name: `${name}/`, type: 'directory', mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: Math.floor(st.mtimeMs / 1000) });
    }
    await add(dir);
  }
  return out;
}

function compress(tar: Buffer, compression: Compression, level: number): Buffer {
  if (compression === 'none') return tar;
  if (compression === 'gzip') return gzipSync(tar, { level });
  const result = spawnSync('zstd', ['-3', '-q', '-c'], { input: tar, maxBuffer: tar.length + (64 << 20) });
  if (result.status !== 0) {
    throw new AloftError('INTERNAL', `Cannot write synthetic image as 'zstd' must compress its layer (apt-get install zstd): got ${result.error?.message ?? String(result.stderr)}`);
  }
  return result.stdout;
}

/** mulberry32: a small seeded PRNG, so images are the same on every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** File bodies cut from 2 MiB of half random, half text-like bytes: compress about 2:1. */
function contentPool(rand: () => number): (size: number) => Buffer {
  const pool = Buffer.alloc(2 << 20);
  for (let i = 0; i < pool.length / 2; i += 4) pool.writeUInt32LE(Math.floor(rand() * 2 ** 32), i);
  const words = ['lorem', 'ipsum', 'config', 'value', 'usr', 'lib', 'share', 'doc', 'the', 'and', '\n'];
  for (let i = pool.length / 2; i < pool.length; ) {
    const w = words[Math.floor(rand() * words.length)]!;
    i += pool.write(`${w} `, i);
  }
  return (size: number) => {
    const out = Buffer.allocUnsafe(size);
    let at = 0;
    let from = Math.floor(rand() * pool.length);
    while (at < size) {
      const n = Math.min(size - at, pool.length - from);
      pool.copy(out, at, from, from + n);
      at += n;
      from = 0;
    }
    return out;
  };
}
