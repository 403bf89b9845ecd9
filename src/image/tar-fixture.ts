import { gzipSync } from 'node:zlib';
import { pack, type Header } from 'tar-stream';

/** One entry of a hand-made tarball (tests only): a name and what tar-stream takes. */
export type FixtureEntry = Partial<Header> & { name: string; content?: string | Buffer };

/**
 * Builds a tarball in memory from `entries`, in the given order, exactly as written:
 * tests use it to craft hostile layers ("../x", links out of the root, devices) that no
 * well-behaved tool would write.
 */
export async function makeTar(entries: FixtureEntry[], options: { gzip?: boolean } = {}): Promise<Buffer> {
  const tar = pack();
  const chunks: Buffer[] = [];
  tar.on('data', (chunk: unknown) => {
    chunks.push(chunk as Buffer);
  });
  const done = new Promise<void>((resolve, reject) => {
    tar.on('end', () => resolve());
    tar.on('error', reject);
  });
  for (const { content, ...header } of entries) {
    const body = content === undefined ? Buffer.alloc(0) : Buffer.from(content);
    const full = { mode: header.type === 'directory' ? 0o755 : 0o644, mtime: new Date(1_700_000_000_000), ...header, size: body.length };
    await new Promise<void>((resolve, reject) => tar.entry(full, body, (err) => (err ? reject(err) : resolve())));
  }
  tar.finalize();
  await done;
  const bytes = Buffer.concat(chunks);
  return options.gzip ? gzipSync(bytes) : bytes;
}
