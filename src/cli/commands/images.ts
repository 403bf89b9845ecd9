import type { Command } from 'commander';
import { seedImages, SEED_IMAGES, type SeededImage } from '../../image/build/index.ts';
import { invalidField } from '../../lib/errors.ts';
import { printJson, printTable, say } from '../output.ts';
import { imagesBuildCommand } from './images-build.ts';
import { registryList, registryTarget } from './images-target.ts';

/** `aloft images seed|build|ls`: base images, builds, and what the aloft registry holds. */
export function imagesCommand(program: Command): void {
  const images = program.command('images').description("build images and seed the aloft registry's base images");

  images
    .command('seed')
    .description('make base images (busybox, debian) and push them to the aloft registry as library/<name>')
    .option('--only <name>', `one of ${SEED_IMAGES.join(', ')} (default: all)`)
    .option('--registry <url>', 'the aloft registry (or ALOFT_REGISTRY_URL; default http://127.0.0.1:5000)')
    .option('--mirror <url>', "the Debian mirror for debootstrap (default: apt's)")
    .option('--suite <name>', 'the Debian suite', 'bookworm')
    .option('--verbose', "print debootstrap's output (on stderr)")
    .option('--json', 'print JSON')
    .action(async (opts: { only?: string; registry?: string; mirror?: string; suite: string; verbose?: boolean; json?: boolean }) => {
      if (opts.only !== undefined && !(SEED_IMAGES as readonly string[]).includes(opts.only)) {
        throw invalidField('seed images', 'only', `one of ${SEED_IMAGES.map((n) => `"${n}"`).join(', ')}`, opts.only);
      }
      const registry = await registryTarget(opts.registry);
      const only = opts.only === undefined ? SEED_IMAGES : [opts.only];
      if (!opts.json && only.includes('debian')) say('Seeding debian with debootstrap (needs the Debian mirror; about a minute)...');
      const seeded: SeededImage[] = await seedImages({
        registry,
        only,
        debian: { suite: opts.suite, ...(opts.mirror === undefined ? {} : { mirror: opts.mirror }) },
        ...(opts.verbose ? { onLine: (line: string) => process.stderr.write(`${line}\n`) } : {}),
      });
      if (opts.json) return printJson(seeded);
      for (const s of seeded) say(`Seeded ${s.name}: ${s.references.join(', ')} ${s.digest} (${s.seconds.toFixed(1)} s)`);
    });

  imagesBuildCommand(images);

  images
    .command('ls')
    .description('list repositories and tags in the aloft registry (those your token may see)')
    .option('--registry <url>', 'the aloft registry (or ALOFT_REGISTRY_URL; default http://127.0.0.1:5000)')
    .option('--json', 'print JSON')
    .action(async (opts: { registry?: string; json?: boolean }) => {
      const target = await registryTarget(opts.registry);
      const repos = await registryList(target, '/v2/_catalog', (b) => (b as { repositories?: string[] }).repositories ?? []);
      const listed: { repository: string; tags: string[] }[] = [];
      for (const repository of repos) {
        const tags = await registryList(target, `/v2/${repository}/tags/list`, (b) => (b as { tags?: string[] | null }).tags ?? []);
        listed.push({ repository, tags: tags.sort() });
      }
      if (opts.json) return printJson(listed);
      if (listed.length === 0) return say(`No images in ${target.url} yet (try 'aloft images seed').`);
      printTable(
        ['REPOSITORY', 'TAGS'],
        listed.map((r) => [r.repository, r.tags.join(', ')]),
      );
    });
}
