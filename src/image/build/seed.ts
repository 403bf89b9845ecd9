import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { invalidField } from '../../lib/errors.ts';
import { checkRegistry, pushLayoutImage } from './push-layout.ts';
import type { RegistryTarget } from './registry-target.ts';
import { writeBusyboxImage } from './seed-busybox.ts';
import { writeDebianImage, type DebianSeedOptions } from './seed-debian.ts';

/** The base images `aloft images seed` can make. */
export const SEED_IMAGES = ['busybox', 'debian'] as const;
export type SeedImageName = (typeof SEED_IMAGES)[number];

/** What to seed, and where. */
export interface SeedOptions {
  registry: RegistryTarget;
  /** Default: all of SEED_IMAGES. */
  only?: readonly string[];
  /** Repository prefix; default "library", so Dockerfiles say `FROM busybox` or `FROM debian:bookworm`. */
  prefix?: string;
  debian?: DebianSeedOptions;
  /** Progress lines (debootstrap's output, what was pushed). */
  onLine?: (line: string) => void;
}

/** One image seeded into the registry. */
export interface SeededImage {
  name: SeedImageName;
  /** Every reference pushed, e.g. "127.0.0.1:5000/library/debian:bookworm" and ":latest". */
  references: string[];
  digest: string;
  seconds: number;
}

/**
 * Makes base images for builds and pushes them to the aloft registry:
 * `<prefix>/busybox:latest` (the host's static busybox; offline, about a second) and
 * `<prefix>/debian:<suite>` plus `:latest` (debootstrap minbase; needs the Debian
 * mirror, a minute or so). Each is written to an OCI layout in a temp dir first,
 * then pushed blob by blob, so a failure leaves no partial tag in the registry.
 */
export async function seedImages(options: SeedOptions): Promise<SeededImage[]> {
  const wanted = options.only ?? SEED_IMAGES;
  for (const name of wanted) {
    if (!(SEED_IMAGES as readonly string[]).includes(name)) throw invalidField('seed images', 'only', `one of ${SEED_IMAGES.map((n) => `"${n}"`).join(', ')}`, name);
  }
  const prefix = options.prefix ?? 'library';
  if (!/^[a-z0-9]+(?:[._-][a-z0-9]+)*$/.test(prefix)) throw invalidField('seed images', 'prefix', 'a lowercase repository path component such as "library"', prefix);
  await checkRegistry(options.registry);
  const out: SeededImage[] = [];
  for (const name of SEED_IMAGES.filter((n) => wanted.includes(n))) {
    const started = Date.now();
    const work = await mkdtemp(join(tmpdir(), `aloft-seed-${name}-`));
    try {
      const layout = join(work, 'layout');
      const repo = `${prefix}/${name}`;
      let layoutTag: string;
      let tags: string[];
      if (name === 'busybox') {
        layoutTag = (await writeBusyboxImage(layout)).tag;
        tags = ['latest'];
      } else {
        const debian = await writeDebianImage(layout, { ...options.debian, ...(options.onLine ? { onLine: options.onLine } : {}) });
        layoutTag = debian.tag;
        tags = [debian.tag, 'latest'];
      }
      const references: string[] = [];
      let digest = '';
      for (const tag of tags) {
        const pushed = await pushLayoutImage(layout, layoutTag, options.registry, repo, tag);
        options.onLine?.(`pushed ${pushed.reference} ${pushed.digest}`);
        references.push(pushed.reference);
        digest = pushed.digest;
      }
      out.push({ name, references, digest, seconds: (Date.now() - started) / 1000 });
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }
  return out;
}
