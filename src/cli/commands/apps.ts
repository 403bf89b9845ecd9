import type { Command } from 'commander';
import { clientFromEnv, type ApiClient, type AppView } from '../api-client.ts';
import { printJson, printTable, say } from '../output.ts';

/** `aloft apps create|list|destroy`. */
export function appsCommand(program: Command): void {
  const apps = program.command('apps').description('manage apps');

  apps
    .command('create <name>')
    .description('create an app')
    .option('--org <slug>', 'the org that owns the app', 'personal')
    .option('--json', 'print the app as JSON')
    .action(async (name: string, opts: { org: string; json?: boolean }) => {
      const client = await clientFromEnv();
      const app = await client.post<AppView>('/apps', { app_name: name, org_slug: opts.org });
      if (opts.json) printJson(app);
      else say(`New app ${app.name} created in org ${app.organization.slug}`);
    });

  apps
    .command('list')
    .description('list apps')
    .option('--org <slug>', 'only apps of this org')
    .option('--json', 'print JSON')
    .action(async (opts: { org?: string; json?: boolean }) => {
      const client = await clientFromEnv();
      const result = await client.get<{ apps: AppView[] }>(`/apps${opts.org ? `?org_slug=${encodeURIComponent(opts.org)}` : ''}`);
      if (opts.json) return printJson(result.apps);
      if (result.apps.length === 0) return say('No apps yet. Create one with: aloft apps create NAME');
      printTable(
        ['NAME', 'ORG', 'STATUS', 'MACHINES'],
        result.apps.map((a) => [a.name, a.organization.slug, a.status, String(a.machine_count ?? 0)]),
      );
    });

  apps
    .command('destroy <name>')
    .description('destroy an app and all its machines')
    .option('-y, --yes', 'do not ask; destroy its machines and volumes too')
    .action(async (name: string, opts: { yes?: boolean }) => {
      const client = await clientFromEnv();
      const machines = await client.get<{ id: string; state: string }[]>(`/apps/${encodeURIComponent(name)}/machines`);
      if (machines.length > 0 && !opts.yes) {
        throw new Error(`Cannot destroy app ${name} as it has ${machines.length} machine(s); pass --yes to destroy them too`);
      }
      const volumes = await client.get<{ id: string }[]>(`/apps/${encodeURIComponent(name)}/volumes`);
      if (volumes.length > 0 && !opts.yes) {
        throw new Error(`Cannot destroy app ${name} as it has ${volumes.length} volume(s) holding data; pass --yes to destroy them too`);
      }
      for (const m of machines) {
        await client.delete(`/apps/${encodeURIComponent(name)}/machines/${m.id}?force=true`);
        await client.get(`/apps/${encodeURIComponent(name)}/machines/${m.id}/wait?state=destroyed&timeout=60`);
      }
      for (const v of volumes) await client.delete(`/apps/${encodeURIComponent(name)}/volumes/${v.id}`);
      await waitForVolumesGone(client, name, 60_000);
      await client.delete(`/apps/${encodeURIComponent(name)}`);
      say(`Destroyed app ${name}`);
    });
}

/** Volumes have no wait endpoint: poll their list, bounded, until the agent has freed them all. */
async function waitForVolumesGone(client: ApiClient, app: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = await client.get<{ id: string; state: string }[]>(`/apps/${encodeURIComponent(app)}/volumes`);
    if (left.length === 0) return;
    if (Date.now() > deadline) throw new Error(`Cannot destroy app ${app} as its volumes were not freed within ${timeoutMs / 1000}s: ${left.map((v) => `${v.id} ${v.state}`).join(', ')}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
