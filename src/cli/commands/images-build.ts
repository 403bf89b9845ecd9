import { resolve } from 'node:path';
import type { Command } from 'commander';
import { buildahStorageDir, buildImage } from '../../image/build/index.ts';
import { defaultSettings } from '../../platform/index.ts';
import { printJson, say } from '../output.ts';
import { registryTarget } from './images-target.ts';

/** `aloft images build DIR --tag NAME [--push] [--output DIR]`. */
export function imagesBuildCommand(images: Command): void {
  images
    .command('build <dir>')
    .description("build DIR's Dockerfile (buildah) or Node app (package.json); FROM names come from the aloft registry: busybox -> <registry>/library/busybox, acme/base:1 -> <registry>/acme/base:1")
    .requiredOption('--tag <name>', 'the image name, e.g. acme/web:v1')
    .option('--push', 'push the result to the aloft registry as <registry>/<name>')
    .option('--output <dir>', 'write the result into this OCI layout dir (default ./aloft-image when not pushing)')
    .option('--registry <url>', 'the aloft registry (or ALOFT_REGISTRY_URL; default http://127.0.0.1:5000)')
    .option('--data-dir <dir>', "where buildah's storage lives (<data-dir>/buildah)", defaultSettings().dataDir)
    .option('--quiet', "do not print the builder's output (on stderr)")
    .option('--json', 'print the result as JSON')
    .action(async (dir: string, opts: { tag: string; push?: boolean; output?: string; registry?: string; dataDir: string; quiet?: boolean; json?: boolean }) => {
      // A Node app built into a layout needs no registry, so no token either.
      const registry = await registryTarget(opts.registry).catch((err: unknown) => {
        if (opts.push) throw err;
        return undefined;
      });
      const layoutDir = opts.output ?? (opts.push ? undefined : resolve('aloft-image'));
      const built = await buildImage(dir, {
        tag: opts.tag,
        storageDir: buildahStorageDir(opts.dataDir),
        ...(registry === undefined ? {} : { registry }),
        push: opts.push === true,
        ...(layoutDir === undefined ? {} : { layoutDir }),
        ...(opts.quiet ? {} : { onLine: (line: string) => process.stderr.write(`${line}\n`) }),
      });
      if (opts.json) return printJson(built);
      const where = [built.reference, built.layout === undefined ? undefined : `OCI layout ${built.layout}`].filter(Boolean).join(' and ');
      say(`Built ${built.tag} (${built.builder}) in ${(built.durationMs / 1000).toFixed(1)} s: ${built.digest} -> ${where}`);
    });
}
