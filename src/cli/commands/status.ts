import type { Command } from 'commander';
import { clientFromEnv, type AppView, type MachineView } from '../api-client.ts';
import { colourState, printJson, printTable, say } from '../output.ts';

/** `aloft status`: the platform at a glance, or one app's machines with `--app`. */
export function statusCommand(program: Command): void {
  program
    .command('status')
    .description("show the platform's apps and machines, or one app's")
    .option('-a, --app <name>', 'only this app')
    .option('--json', 'print JSON')
    .action(async (opts: { app?: string; json?: boolean }) => {
      const client = await clientFromEnv();
      const apps = opts.app ? [await client.get<AppView>(`/apps/${encodeURIComponent(opts.app)}`)] : (await client.get<{ apps: AppView[] }>('/apps')).apps;
      const machines = await Promise.all(apps.map((a) => client.get<MachineView[]>(`/apps/${encodeURIComponent(a.name)}/machines`)));
      if (opts.json) return printJson(apps.map((a, i) => ({ ...a, machines: machines[i] })));
      say(`aloft at ${client.options.baseUrl}: ${apps.length} app(s)`);
      apps.forEach((a, i) => {
        const list = machines[i] ?? [];
        const started = list.filter((m) => m.state === 'started').length;
        say(`\n${a.name} (${a.organization.slug}): ${list.length} machine(s), ${started} started`);
        printTable(['ID', 'NAME', 'STATE', 'REGION'], list.map((m) => [m.id, m.name, colourState(m.state), m.region]));
      });
    });
}
