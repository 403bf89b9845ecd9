import type { Command } from 'commander';
import pc from 'picocolors';
import { findConfigFile, loadAppConfig } from '../../config/index.ts';
import { ApiError, clientFromEnv } from '../api-client.ts';
import { printJson, printTable, say } from '../output.ts';
import { watchRelease, type ReleaseView } from './deploy.ts';

/** The app: --app, else ALOFT_APP, else the `app` of this directory's config file. */
function appFrom(opts: { app?: string }, action: string): string {
  const named = opts.app ?? process.env['ALOFT_APP'];
  if (named) return named;
  try {
    const app = loadAppConfig(findConfigFile(process.cwd())).config.app;
    if (app) return app;
  } catch {
    // No config here: the error below says what to pass.
  }
  throw new ApiError(`Cannot ${action} as '--app' must name an app (or run where fly.toml / aloft.toml names one): got nothing`, 0, 'INVALID_ARGUMENT');
}

/** `aloft releases [--json]` and `aloft releases rollback [N]`. */
export function releasesCommand(program: Command): void {
  const releases = program
    .command('releases')
    .description("an app's releases, newest first: version, status, strategy, image, who, when")
    .option('-a, --app <name>', "the app (default: ALOFT_APP, or the config's 'app')")
    .option('--json', 'print the releases as JSON')
    .action(async (opts: { app?: string; json?: boolean }) => {
      const app = appFrom(opts, 'list releases');
      const client = await clientFromEnv();
      const { releases: list } = await client.get<{ releases: ReleaseView[] }>(`/apps/${encodeURIComponent(app)}/releases`);
      if (opts.json) return printJson(list);
      if (list.length === 0) return say(`${app} has no releases yet: run aloft deploy`);
      printTable(
        ['VERSION', 'STATUS', 'STRATEGY', 'IMAGE', 'BY', 'CREATED', 'REASON'],
        list.map((r) => [
          `v${r.version}${r.rollback_of === undefined ? '' : ` (rollback to v${r.rollback_of})`}`,
          // Not coloured: printTable pads by length, and colour codes would count.
          r.status,
          r.strategy,
          `${r.image_ref.length > 48 ? `…${r.image_ref.slice(-47)}` : r.image_ref} ${r.image_digest.slice(7, 19)}`,
          r.created_by,
          r.created_at.replace('T', ' ').slice(0, 19),
          (r.reason ?? '').split('\n')[0]!.slice(0, 80),
        ]),
      );
    });

  releases
    .command('rollback [version]')
    .description('redeploy release N (default: the last succeeded release before the current one) as a new release')
    .option('-a, --app <name>', "the app (default: ALOFT_APP, or the config's 'app')")
    .option('--json', 'print progress events as NDJSON')
    .option('--detach', 'start the rollback and return; it goes on in the platform')
    .action(async (version: string | undefined, own: { app?: string; json?: boolean; detach?: boolean }, cmd: Command) => {
      // `--app` and `--json` given after `rollback` may be read by `releases` itself: take both.
      const opts = cmd.optsWithGlobals<{ app?: string; json?: boolean; detach?: boolean }>();
      void own;
      if (version !== undefined && !/^v?[1-9][0-9]*$/.test(version)) {
        throw new ApiError(`Cannot roll back as 'version' must be a release number such as 3 or v3: got "${version}"`, 0, 'INVALID_ARGUMENT');
      }
      const app = appFrom(opts, 'roll back');
      const client = await clientFromEnv();
      const target = version === undefined ? 'previous' : version.replace(/^v/, '');
      const release = await client.post<ReleaseView>(`/apps/${encodeURIComponent(app)}/releases/${target}/rollback`);
      if (!opts.json) say(`${pc.cyan('<==')} rolling ${app} back to release v${release.rollback_of} as release v${release.version}`);
      await watchRelease(client, app, release, opts);
    });
}
