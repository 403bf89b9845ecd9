import { readFileSync } from 'node:fs';
import { basename, dirname, relative, resolve } from 'node:path';
import type { Command } from 'commander';
import pc from 'picocolors';
import { findConfigFile, loadAppConfig, type LoadedAppConfig } from '../../config/index.ts';
import { buildahStorageDir, buildImage } from '../../image/build/index.ts';
import { defaultSettings } from '../../platform/index.ts';
import { ApiError, clientFromEnv, type ApiClient, type AppView } from '../api-client.ts';
import { printJson } from '../output.ts';
import { followRelease, type ProgressMode, type ReleaseEventView } from './deploy-progress.ts';
import { registryTarget } from './images-target.ts';

const STRATEGIES = ['rolling', 'immediate', 'canary', 'bluegreen'] as const;

interface DeployOptions {
  config?: string;
  environment?: string;
  app?: string;
  image?: string;
  strategy?: string;
  json?: boolean;
  detach?: boolean;
  registry?: string;
  dataDir: string;
}

/** A release as the API answers it. */
export interface ReleaseView {
  id: string;
  version: number;
  app_name: string;
  status: string;
  strategy: string;
  image_ref: string;
  image_digest: string;
  created_by: string;
  created_at: string;
  finished_at?: string;
  reason?: string;
  rollback_of?: number;
}

/** How progress is shown: NDJSON with --json, live lines on a TTY, plain lines otherwise. */
export function progressMode(json: boolean | undefined): ProgressMode {
  return json ? 'json' : process.stdout.isTTY ? 'tty' : 'plain';
}

/** Where human progress goes: stderr under --json, so stdout is only events. */
function note(json: boolean | undefined, text: string): void {
  (json ? process.stderr : process.stdout).write(`${text}\n`);
}

/**
 * Follows a started release to its end, then exits non-zero when it did not succeed,
 * with its reason (the log lines were already shown as events).
 */
export async function watchRelease(client: ApiClient, app: string, release: ReleaseView, opts: { json?: boolean; detach?: boolean }): Promise<void> {
  if (opts.detach) {
    if (opts.json) return printJson(release);
    note(false, `release v${release.version} of ${app} is running in the platform; follow it with: aloft releases --app ${app}`);
    return;
  }
  const started = Date.now();
  const done: ReleaseEventView = await followRelease(client, app, release.version, progressMode(opts.json));
  if (done.status === 'succeeded') {
    note(opts.json, `${pc.green('✔')} ${app} release v${release.version} is live (${((Date.now() - started) / 1000).toFixed(1)} s)`);
    return;
  }
  const reason = (done.reason ?? done.message).split('; its last log lines:')[0];
  throw new ApiError(`release v${release.version} of ${app} ${done.status === 'rolled_back' ? 'failed and was rolled back' : 'failed'}: ${reason}`, 422, done.code ?? 'DEPLOY_FAILED');
}

/** The app config, its warnings said on stderr. */
function loadConfig(opts: DeployOptions): LoadedAppConfig {
  const path = opts.config ?? relative(process.cwd(), findConfigFile(process.cwd())) ?? 'fly.toml';
  const loaded = loadAppConfig(path, opts.environment === undefined ? {} : { environment: opts.environment });
  for (const w of loaded.warnings) process.stderr.write(`${pc.yellow('warning:')} ${w.message}\n`);
  return loaded;
}

/**
 * The image to deploy: --image, else `[build] image`, else the config's directory
 * built (Dockerfile with buildah, or a Node app) and pushed to the platform registry as
 * `<org>/<app>:deploy-<time>`, so each release names an image no later push changes.
 */
async function imageFor(client: ApiClient, app: string, loaded: LoadedAppConfig, opts: DeployOptions): Promise<string> {
  if (opts.image) return opts.image;
  if (loaded.config.build?.image) return loaded.config.build.image;
  const appView = await client.get<AppView>(`/apps/${encodeURIComponent(app)}`);
  const dir = dirname(resolve(loaded.files[0]!));
  const tag = `${appView.organization.slug}/${app}:deploy-${new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').toLowerCase()}`;
  note(opts.json, `${pc.cyan('==>')} building ${dir} as ${tag}`);
  const built = await buildImage(dir, {
    tag,
    storageDir: buildahStorageDir(opts.dataDir),
    registry: await registryTarget(opts.registry),
    push: true,
    onLine: (line) => process.stderr.write(`${pc.dim(line)}\n`),
  });
  note(opts.json, `${pc.cyan('==>')} pushed ${built.reference} (${built.digest.slice(0, 19)}…, ${(built.durationMs / 1000).toFixed(1)} s)`);
  return built.reference!;
}

/**
 * `aloft deploy`: reads the app config, builds and pushes the image (or takes --image),
 * starts the deploy in the platform (which runs it, so closing this terminal does not
 * stop it half-way), and follows its progress to the end. Exit 1 when it fails.
 */
export function deployCommand(program: Command): void {
  program
    .command('deploy')
    .description('deploy the app: build and push its image, run release_command, roll out with the strategy, record a release')
    .option('-c, --config <file>', 'the config file (default: aloft.toml, else fly.toml, in this directory)')
    .option('--environment <name>', 'read <file>.<name>.toml over the config (e.g. fly.staging.toml)')
    .option('-a, --app <name>', "the app (default: the config's 'app')")
    .option('-i, --image <ref>', 'deploy this image instead of building (a registry reference or an OCI layout path)')
    .option('--strategy <name>', `override [deploy] strategy: ${STRATEGIES.join(', ')}`)
    .option('--json', 'print progress events as NDJSON')
    .option('--detach', 'start the deploy and return; it goes on in the platform')
    .option('--registry <url>', 'the aloft registry to push to (or ALOFT_REGISTRY_URL; default http://127.0.0.1:5000)')
    .option('--data-dir <dir>', "where buildah's storage lives (<data-dir>/buildah)", defaultSettings().dataDir)
    .action(async (opts: DeployOptions) => {
      if (opts.strategy !== undefined && !(STRATEGIES as readonly string[]).includes(opts.strategy)) {
        throw new ApiError(`Cannot deploy as '--strategy' must be one of ${STRATEGIES.join(', ')}: got "${opts.strategy}"`, 0, 'INVALID_ARGUMENT');
      }
      const loaded = loadConfig(opts);
      const app = opts.app ?? loaded.config.app;
      if (!app) throw new ApiError(`Cannot deploy as 'app' must be set in ${loaded.files[0]} or with --app: got nothing`, 0, 'INVALID_ARGUMENT');
      const client = await clientFromEnv();
      const image = await imageFor(client, app, loaded, opts);
      const release = await client.post<ReleaseView>(`/apps/${encodeURIComponent(app)}/deploys`, {
        image,
        ...(opts.strategy ? { strategy: opts.strategy } : {}),
        config: loaded.files.map((file) => ({ name: basename(file), text: readFileSync(file, 'utf8') })),
      });
      await watchRelease(client, app, release, opts);
    });
}
