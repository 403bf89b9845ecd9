import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { CONFIG_FILE_NAMES, loadAppConfig } from '../../config/index.ts';
import { parseSecretsImport } from '../../secrets/import-format.ts';
import { clientFromEnv } from '../api-client.ts';
import { printJson, printTable, say } from '../output.ts';

/** A secret as the API lists it: never a value. */
interface SecretView {
  name: string;
  digest: string | null;
  status: 'deployed' | 'staged' | 'staged_unset';
  staged: boolean;
  created_at: string;
  updated_at: string;
}

interface ChangeView {
  secrets: SecretView[];
  restarted: { id: string; instance_id: string }[] | null;
}

interface AppOption {
  app?: string;
  config?: string;
}

const path = (app: string, rest = ''): string => `/apps/${encodeURIComponent(app)}/secrets${rest}`;

/** `-a APP`, else the `app` of the config file (--config, or aloft.toml / fly.toml here), as flyctl does. */
function appName(opts: AppOption): string {
  if (opts.app) return opts.app;
  const file = opts.config ?? CONFIG_FILE_NAMES.map((name) => join(process.cwd(), name)).find((p) => existsSync(p));
  const fromConfig = file === undefined ? undefined : loadAppConfig(file).config.app;
  if (!fromConfig) throw new Error(`Cannot find the app as '--app' must name it (or an aloft.toml / fly.toml here must have 'app'): got ${file ? `no 'app' in ${file}` : 'neither'}`);
  return fromConfig;
}

/** All of stdin; refused when it is a terminal, since a secret typed there would be echoed. */
async function readStdin(what: string): Promise<string> {
  if (process.stdin.isTTY) throw new Error(`Cannot read ${what} as standard input must be piped (e.g. aloft secrets set KEY=- < key.pem): got a terminal`);
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * NAME=VALUE arguments as a map. `NAME=-` takes the value from stdin (once; one trailing
 * newline dropped, as `echo` adds it). Errors name the argument's position, never its text.
 */
async function parsePairs(pairs: string[]): Promise<Record<string, string>> {
  const secrets: Record<string, string> = {};
  let stdinUsedBy: string | undefined;
  for (const [index, pair] of pairs.entries()) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new Error(`Cannot set secrets as argument ${index + 1} must be NAME=VALUE: got one ${eq === 0 ? 'with no name' : "without '='"}`);
    const name = pair.slice(0, eq);
    let value = pair.slice(eq + 1);
    if (value === '-') {
      if (stdinUsedBy !== undefined) throw new Error(`Cannot set secrets as only one may read standard input ('NAME=-'): got ${stdinUsedBy} and ${name}`);
      stdinUsedBy = name;
      value = (await readStdin(`the value of ${name}`)).replace(/\r?\n$/, '');
    }
    secrets[name] = value;
  }
  return secrets;
}

/** What a change did, in a line or two. */
function sayChange(app: string, verb: string, names: string[], change: ChangeView): void {
  const what = `${names.length} secret${names.length === 1 ? '' : 's'} (${names.join(', ')})`;
  if (change.restarted === null) {
    say(`Staged: ${verb} ${what} of ${app}. Machines get them at their next start; apply now with: aloft secrets deploy -a ${app}`);
    return;
  }
  say(`${verb[0]!.toUpperCase()}${verb.slice(1)} ${what} of ${app}.`);
  say(change.restarted.length === 0 ? 'No started machines to restart; machines get them when they start.' : `Restarted ${change.restarted.length} machine${change.restarted.length === 1 ? '' : 's'} one at a time: ${change.restarted.map((m) => m.id).join(', ')}`);
}

function withApp(cmd: Command): Command {
  return cmd.option('-a, --app <app>', 'the app (default: app in aloft.toml / fly.toml here)').option('-c, --config <file>', 'the config file naming the app');
}

/** `aloft secrets set|unset|list|import|deploy`: an app's secrets, sealed at rest and given to its Machines as env. */
export function secretsCommand(program: Command): void {
  const secrets = program.command('secrets').description("manage an app's secrets: encrypted at rest, given to its machines as environment variables");

  withApp(secrets.command('set <pairs...>'))
    .description('set secrets (NAME=VALUE; NAME=- reads the value from stdin), then restart the machines one at a time unless --stage')
    .option('--stage', 'only store them; machines get them at their next start or on aloft secrets deploy')
    .option('--json', 'print the result as JSON')
    .action(async (pairs: string[], opts: AppOption & { stage?: boolean; json?: boolean }) => {
      const app = appName(opts);
      const values = await parsePairs(pairs);
      const client = await clientFromEnv();
      const change = await client.post<ChangeView>(path(app), { secrets: values, stage: opts.stage === true });
      if (opts.json) return printJson(change);
      sayChange(app, 'set', Object.keys(values), change);
    });

  withApp(secrets.command('unset <names...>'))
    .description('unset secrets, then restart the machines one at a time unless --stage')
    .option('--stage', 'only record it; machines lose them at their next start or on aloft secrets deploy')
    .option('--json', 'print the result as JSON')
    .action(async (names: string[], opts: AppOption & { stage?: boolean; json?: boolean }) => {
      const app = appName(opts);
      const client = await clientFromEnv();
      const query = new URLSearchParams({ names: names.join(','), ...(opts.stage ? { stage: 'true' } : {}) });
      const change = await client.request<ChangeView>('DELETE', `${path(app)}?${query.toString()}`);
      if (opts.json) return printJson(change);
      sayChange(app, 'unset', names, change);
    });

  withApp(secrets.command('list'))
    .description("list an app's secrets: names, digests and whether staged (never values)")
    .option('--json', 'print JSON')
    .action(async (opts: AppOption & { json?: boolean }) => {
      const app = appName(opts);
      const client = await clientFromEnv();
      const list = await client.get<SecretView[]>(path(app));
      if (opts.json) return printJson(list);
      if (list.length === 0) return say(`No secrets in ${app}. Set one with: aloft secrets set NAME=VALUE -a ${app}`);
      const status = (s: SecretView): string => (s.status === 'staged_unset' ? 'staged (unset)' : s.status);
      printTable(['NAME', 'DIGEST', 'STATUS', 'UPDATED'], list.map((s) => [s.name, s.digest ?? '-', status(s), s.updated_at]));
    });

  withApp(secrets.command('import'))
    .description('set secrets from stdin: NAME=VALUE lines, # comments, """multi-line""" values (as fly secrets import)')
    .option('--stage', 'only store them; machines get them at their next start or on aloft secrets deploy')
    .option('--json', 'print the result as JSON')
    .action(async (opts: AppOption & { stage?: boolean; json?: boolean }) => {
      const app = appName(opts);
      const values = parseSecretsImport(await readStdin('secrets to import'));
      if (Object.keys(values).length === 0) throw new Error('Cannot import secrets as standard input must hold NAME=VALUE lines: got none');
      const client = await clientFromEnv();
      const change = await client.post<ChangeView>(path(app), { secrets: values, stage: opts.stage === true });
      if (opts.json) return printJson(change);
      sayChange(app, 'set', Object.keys(values), change);
    });

  withApp(secrets.command('deploy'))
    .description('apply staged secrets: restart the machines one at a time')
    .option('--json', 'print the result as JSON')
    .action(async (opts: AppOption & { json?: boolean }) => {
      const app = appName(opts);
      const client = await clientFromEnv();
      const change = await client.post<ChangeView>(path(app, '/deploy'));
      if (opts.json) return printJson(change);
      const restarted = change.restarted ?? [];
      say(restarted.length === 0 ? `Nothing to restart in ${app}: no staged secrets, or no started machines.` : `Restarted ${restarted.length} machine${restarted.length === 1 ? '' : 's'} of ${app} one at a time: ${restarted.map((m) => m.id).join(', ')}`);
    });
}
