import type { Command } from 'commander';
import { clientFromEnv } from '../api-client.ts';
import { printJson, printTable, say } from '../output.ts';

interface OrgView {
  slug: string;
  name: string;
  created_at: string;
}

/** `aloft orgs create|list` (the operator's admin API). */
export function orgsCommand(program: Command): void {
  const orgs = program.command('orgs').description('manage organizations (operator only)');

  orgs
    .command('create <slug>')
    .description('create an org')
    .option('--name <name>', 'a display name (default: the slug)')
    .option('--json', 'print the org as JSON')
    .action(async (slug: string, opts: { name?: string; json?: boolean }) => {
      const client = await clientFromEnv();
      const org = await client.post<OrgView>('/orgs', { slug, ...(opts.name ? { name: opts.name } : {}) });
      if (opts.json) printJson(org);
      else say(`New org ${org.slug} created`);
    });

  orgs
    .command('list')
    .description('list orgs')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const list = await (await clientFromEnv()).get<OrgView[]>('/orgs');
      if (opts.json) return printJson(list);
      printTable(['SLUG', 'NAME', 'CREATED'], list.map((o) => [o.slug, o.name, o.created_at]));
    });
}
