import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { AloftError } from '../lib/errors.ts';
import type { Descriptor } from './oci-schemas.ts';

/**
 * Where an image's blobs come from while it is imported: an OCI layout directory, a
 * docker-archive, later a registry. Bytes from a source are untrusted; the store
 * verifies each against its descriptor.
 */
export interface BlobSource {
  /** Names the source in messages (a path, later a registry URL). */
  readonly origin: string;
  /** Opens a blob; IMAGE_INVALID when the source lacks it. */
  open(digest: string): Promise<Readable>;
}

/** A reference resolved within a source: the manifest to import, and its tag. */
export interface SourceImage {
  source: BlobSource;
  manifest: Descriptor;
  /** The tag the image carries in the source, when it has one. */
  tag: string | undefined;
}

/**
 * Files of an image layout by their layout-relative names ("index.json",
 * "blobs/sha256/<hex>"), wherever they are: a directory, or a staged archive.
 */
export interface LayoutFiles {
  readonly origin: string;
  /** Opens a file, or resolves undefined when absent. */
  open(name: string): Promise<Readable | undefined>;
}

/** The files of a layout directory. Names come from aloft's code, never from the image. */
export function directoryFiles(dir: string): LayoutFiles {
  return {
    origin: dir,
    async open(name) {
      const path = join(dir, name);
      const st = await stat(path).catch(() => undefined);
      return st?.isFile() ? createReadStream(path) : undefined;
    },
  };
}

/** Reads a small file whole: undefined when absent, IMAGE_INVALID past `limit` bytes. */
export async function readSmall(files: LayoutFiles, name: string, limit = 4 << 20): Promise<Buffer | undefined> {
  const stream = await files.open(name);
  if (stream === undefined) return undefined;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      stream.destroy();
      throw new AloftError('IMAGE_INVALID', `Cannot read ${name} in ${files.origin} as it must be at most ${limit} bytes: got more`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** The blobs of an OCI image layout: `blobs/<alg>/<hex>`. */
export function layoutBlobs(files: LayoutFiles): BlobSource {
  return {
    origin: files.origin,
    async open(digest) {
      const name = `blobs/${digest.replace(':', '/')}`;
      const stream = await files.open(name);
      if (stream === undefined) {
        throw new AloftError('IMAGE_INVALID', `Cannot import image from ${files.origin} as blob ${digest} must be present: got no file ${name}`, {
          details: { digest },
        });
      }
      return stream;
    },
  };
}
