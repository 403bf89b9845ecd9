import { spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { parseAppConfig, CONFIG_FILE_NAMES } from '../../config/index.ts';
import { AloftError, invalidField } from '../../lib/errors.ts';
import { detectProject, launchAppName, launchToml, staticSiteDockerfile, writeFilesAtomically } from '../../launch/index.ts';
import { defaultSettings } from '../../platform/index.ts';
import { ApiError, clientFromEnv, type AppView } from '../api-client.ts';
import { printJson, say } from '../output.ts';

interface LaunchOptions {
  name?: string;
  region: string;
  org: string;
  force?: boolean;
  deploy?: boolean;
  json?: boolean;
}

/**
 * `aloft launch [dir]`: finds what the directory holds (a Dockerfile, a Node app, a
 * static site), creates the app through the API, and writes aloft.toml for it (and,
 * for a static site, the Dockerfile that serves it); `--deploy` then runs `aloft
 * deploy` there. Refuses to overwrite an aloft.toml or fly.toml without `--force`.
 * Nothing is created or written when a check fails; the files are written only after
 * the app exists, each through a temporary file.
 */
export function launchCommand(program: Command): void {
  program
    .command('launch [dir]')
    .description('create an app from the project in DIR (default .): detect how it builds, write aloft.toml, create the app')
    .option('--name <name>', "the app's name (default: the directory's name)")
    .option('--region <code>', 'primary_region (or ALOFT_REGION)', process.env['ALOFT_REGION'] ?? defaultSettings().region)
    .option('--org <slug>', 'the org that owns the app', 'personal')
    .option('--force', 'overwrite an existing aloft.toml (a fly.toml is left, and aloft.toml is read before it)')
    .option('--deploy', 'deploy the app right after (aloft deploy)')
    .option('--json', 'print what was done as JSON')
    .action(async (dirArg: string | undefined, opts: LaunchOptions) => {
      const dir = resolve(dirArg ?? '.');
      if (!existsSync(dir) || !statSync(dir).isDirectory()) throw invalidField('launch', 'dir', 'an existing directory', dirArg ?? '.');
      if (!opts.force) {
        const existing = CONFIG_FILE_NAMES.map((name) => join(dir, name)).find((path) => existsSync(path));
        if (existing !== undefined) throw invalidField('launch', existing, 'absent (pass --force to write aloft.toml anyway)', 'an existing file');
      }
      if (!/^[a-z0-9-]{1,32}$/.test(opts.region)) throw invalidField('launch', '--region', 'a region code such as "local" or "ams"', opts.region);
      // Checked before anything is created: a launch that cannot deploy must not half-happen.
      const deploy = opts.deploy ? deployCommandOf() : undefined;

      const project = await detectProject(dir);
      const app = launchAppName(dir, opts.name);
      const toml = launchToml(project, { app, primaryRegion: opts.region });
      // What we write must read back without a warning: the same parser deploys use.
      const { warnings } = parseAppConfig(toml, 'aloft.toml');
      if (warnings.length > 0) throw new AloftError('INTERNAL', `Cannot launch as the aloft.toml written must read back cleanly: got ${warnings.map((w) => w.message).join('; ')}`);

      const client = await clientFromEnv();
      const created = await client.post<AppView>('/apps', { app_name: app, org_slug: opts.org }).catch((err: unknown) => {
        if (err instanceof ApiError && err.code === 'APP_EXISTS') {
          throw new AloftError('APP_EXISTS', `Cannot launch as app name '${app}' must be free: got an existing app (pick another with --name)`);
        }
        throw err;
      });
      const files: Record<string, string> = {};
      if (project.kind === 'static') files[project.dockerfile!] = staticSiteDockerfile(project.staticRoot!);
      files['aloft.toml'] = toml;
      await writeFilesAtomically(dir, files);

      if (opts.json) {
        printJson({ app: created.name, org: created.organization.slug, primary_region: opts.region, project, wrote: Object.keys(files) });
      } else {
        say(`Found a ${project.kind === 'dockerfile' ? 'Dockerfile' : project.kind === 'node' ? 'Node app' : 'static site'} (${project.source}); it listens on port ${project.internalPort} (${project.portFrom}).`);
        say(`Created app ${created.name} in org ${created.organization.slug}; wrote ${Object.keys(files).join(' and ')} in ${dir}.`);
        if (!deploy) say(`Deploy it with: aloft deploy${dirArg === undefined ? '' : ` (in ${dir})`}`);
      }
      if (deploy) await deploy(dir);
    });
}

/**
 * How `--deploy` runs `aloft deploy`: as a child `aloft` in the project directory, so the
 * deploy reads the aloft.toml just written as a user's own run would.
 */
function deployCommandOf(): (dir: string) => Promise<void> {
  return (dir) =>
    new Promise<void>((resolvePromise, reject) => {
      const child = spawn(process.execPath, [...process.execArgv, process.argv[1]!, 'deploy'], { cwd: dir, stdio: 'inherit' });
      child.once('error', reject);
      child.once('exit', (code) =>
        code === 0 ? resolvePromise() : reject(new AloftError('DEPLOY_FAILED', `Cannot launch as 'aloft deploy' must succeed: got exit code ${String(code)} (the app and aloft.toml are kept; run aloft deploy again)`)),
      );
    });
}
