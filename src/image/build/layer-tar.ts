import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { open, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { AloftError } from '../../lib/errors.ts';
import { requireTool } from './host-tool.ts';
import { spawnLines } from './spawn-lines.ts';

/** A gzip layer made from a directory, and the digest of its uncompressed tar. */
export interface DirLayer {
  gzip: Buffer;
  diffId: string;
}

/**
 * Tars `root` as one image layer with GNU tar, made to be reproducible: names sorted,
 * every mtime at `mtime` (epoch seconds), numeric owners, no atime/ctime in PAX
 * headers, gzip without a name or time. `exclude` patterns are tar's (relative to
 * root, e.g. "dev/*"). The tar goes through `scratch` (a file), not memory.
 */
export async function tarDirectoryLayer(root: string, scratch: string, options: { mtime: number; exclude?: string[] }): Promise<DirLayer> {
  const tar = requireTool('tar', 'tar', 'build an image layer');
  const tarPath = join(scratch, 'layer.tar');
  const out = await open(tarPath, 'w');
  // Top-level names in order, so no "./" entry and no "./" prefixes.
  const top = (await readdir(root)).sort();
  const args = [
    '--create',
    '--format=posix',
    '--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime',
    '--sort=name',
    `--mtime=@${options.mtime}`,
    '--numeric-owner',
    ...(options.exclude ?? []).map((p) => `--exclude=${p}`),
    '--directory',
    root,
    '--file',
    tarPath,
    '--',
    ...top,
  ];
  await out.close();
  const result = await spawnLines(tar, args, { env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', LC_ALL: 'C' }, timeoutMs: 30 * 60_000, errorCode: 'BUILD_FAILED' });
  if (result.code !== 0) throw new AloftError('BUILD_FAILED', `Cannot build image layer from ${root} as tar must succeed: exit ${result.code}: ${result.tail.join('\n')}`);
  const hash = createHash('sha256');
  await pipeline(createReadStream(tarPath), hash);
  const gzPath = join(scratch, 'layer.tar.gz');
  // Node's gzip header carries no name and a zero mtime, so equal tars give equal bytes;
  // level 6: level 9 takes twice as long on a 200 MB root for a few percent.
  await pipeline(createReadStream(tarPath), createGzip({ level: 6 }), createWriteStream(gzPath));
  return { gzip: await readFile(gzPath), diffId: `sha256:${hash.digest('hex')}` };
}
