import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { CONFIG_FILE_NAMES, loadAppConfig } from '../../config/index.ts';
import { clientFromEnv } from '../api-client.ts';
import { printJson, printTable, say } from '../output.ts';

interface IpView {
  address: string;
  app: string;
  type: 'private_v6';
  region: string;
  created_at: string;
}

interface AppOption {
  app?: string;
  config?: string;
}

/** `-a APP`, else the `app` of the config file (--config, or aloft.toml / fly.toml here), as flyctl does. */
function appName(opts: AppOption): string {
  if (opts.app) return opts.app;
  const file = opts.config ?? CONFIG_FILE_NAMES.map((name) => join(process.cwd(), name)).find((p) => existsSync(p));
  const fromConfig = file === undefined ? undefined : loadAppConfig(file).config.app;
  if (!fromConfig) throw new Error(`Cannot find the app as '--app' must name it (or an aloft.toml / fly.toml here must have 'app'): got ${file ? `no 'app' in ${file}` : 'neither'}`);
  return fromConfig;
}

function withApp(cmd: Command): Command {
  return cmd.option('-a, --app <app>', 'the app (default: app in aloft.toml / fly.toml here)').option('-c, --config <file>', 'the config file naming the app');
}

const path = (app: string, rest = ''): string => `/apps/${encodeURIComponent(app)}/ips${rest}`;

/** `aloft ips allocate-v6 --private|list|release`: an app's private (Flycast) addresses, served through the proxy. */
export function ipsCommand(program: Command): void {
  const ips = program.command('ips').description("manage an app's IP addresses (private Flycast IPv6 for now)");

  withApp(ips.command('allocate-v6'))
    .description("allocate an IPv6 address; --private gives a Flycast address in the org's network, reached through the proxy (as <app>.flycast)")
    .option('--private', 'a private (Flycast) address')
    .option('-r, --region <region>', 'the region it is meant for (default: global)')
    .option('--json', 'print JSON')
    .action(async (opts: AppOption & { private?: boolean; region?: string; json?: boolean }) => {
      if (opts.private !== true) throw new Error("Cannot allocate IPv6 address as '--private' must be given: got none (public addresses are the edge's; only Flycast is allocated per app)");
      const app = appName(opts);
      const client = await clientFromEnv();
      const ip = await client.post<IpView>(path(app), { type: 'private_v6', ...(opts.region ? { region: opts.region } : {}) });
      if (opts.json) return printJson(ip);
      say(`Allocated private IPv6 ${ip.address} to ${app}; reach it as ${app}.flycast from the org's private network.`);
    });

  withApp(ips.command('list'))
    .description("list an app's addresses")
    .option('--json', 'print JSON')
    .action(async (opts: AppOption & { json?: boolean }) => {
      const app = appName(opts);
      const client = await clientFromEnv();
      const list = await client.get<IpView[]>(path(app));
      if (opts.json) return printJson(list);
      if (list.length === 0) return say(`No IP addresses for ${app}. Allocate one with: aloft ips allocate-v6 --private -a ${app}`);
      printTable(['VERSION', 'IP', 'TYPE', 'REGION', 'CREATED'], list.map((ip) => ['v6', ip.address, 'private', ip.region, ip.created_at]));
    });

  withApp(ips.command('release <address>'))
    .description('release an address')
    .action(async (address: string, opts: AppOption) => {
      const app = appName(opts);
      const client = await clientFromEnv();
      await client.delete(path(app, `/${encodeURIComponent(address)}`));
      say(`Released ${address} from ${app}.`);
    });
}
