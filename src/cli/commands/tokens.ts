import type { Command } from 'commander';
import pc from 'picocolors';
import { clientFromEnv } from '../api-client.ts';
import { printJson, printTable, say } from '../output.ts';

interface TokenView {
  id: string;
  name: string;
  org_slug: string;
  app_name: string | null;
  read_only: boolean;
  created_at: string;
  revoked_at: string | null;
  token?: string;
}

function scope(t: TokenView): string {
  return `${t.org_slug}${t.app_name ? `/${t.app_name}` : ''}${t.read_only ? ' (read-only)' : ''}`;
}

/** `aloft tokens create|list|revoke` (the operator's admin API). */
export function tokensCommand(program: Command): void {
  const tokens = program.command('tokens').description('manage API tokens (operator only)');

  tokens
    .command('create')
    .description('create a token; its secret is printed once and cannot be shown again')
    .option('--org <slug>', 'the org it acts in', 'personal')
    .option('--app <name>', 'limit it to one app')
    .option('--read-only', 'allow reads only')
    .option('--name <name>', 'a name to recognise it by')
    .option('--json', 'print the token (with its secret) as JSON')
    .action(async (opts: { org: string; app?: string; readOnly?: boolean; name?: string; json?: boolean }) => {
      const client = await clientFromEnv();
      const created = await client.post<TokenView>('/tokens', {
        org: opts.org,
        read_only: opts.readOnly === true,
        ...(opts.app ? { app: opts.app } : {}),
        ...(opts.name ? { name: opts.name } : {}),
      });
      if (opts.json) return printJson(created);
      say(`New token ${created.id} (${created.name}) for ${scope(created)}. Its secret, shown only now:`);
      say(pc.bold(created.token ?? ''));
    });

  tokens
    .command('list')
    .description('list tokens (never their secrets)')
    .option('--org <slug>', "only this org's tokens")
    .option('--json', 'print JSON')
    .action(async (opts: { org?: string; json?: boolean }) => {
      const list = await (await clientFromEnv()).get<TokenView[]>(`/tokens${opts.org ? `?org=${encodeURIComponent(opts.org)}` : ''}`);
      if (opts.json) return printJson(list);
      printTable(
        ['ID', 'NAME', 'SCOPE', 'CREATED', 'REVOKED'],
        list.map((t) => [t.id, t.name, scope(t), t.created_at, t.revoked_at ?? '']),
      );
    });

  tokens
    .command('revoke <id>')
    .description('revoke a token; it is refused from then on')
    .action(async (id: string) => {
      await (await clientFromEnv()).delete<TokenView>(`/tokens/${encodeURIComponent(id)}`);
      say(`Revoked token ${id}`);
    });
}
