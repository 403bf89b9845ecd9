import type { Command } from 'commander';
import { clientFromEnv } from '../api-client.ts';
import { printJson, say } from '../output.ts';

interface LeaseView {
  status: string;
  data: { nonce: string; expires_at: number; owner: string; description: string; version: string };
}

const NONCE_HEADER = 'fly-machine-lease-nonce';

function leasePath(app: string, id: string): string {
  return `/apps/${encodeURIComponent(app)}/machines/${encodeURIComponent(id)}/lease`;
}

function describeLease(id: string, lease: LeaseView['data']): string {
  return `Machine ${id} leased by ${lease.owner} until ${new Date(lease.expires_at * 1000).toISOString()}, nonce ${lease.nonce}${lease.description ? ` (${lease.description})` : ''}`;
}

/**
 * `aloft machine lease acquire|show|release ID --app A`. Registered under the existing
 * `machine` command, so this file owns leases without touching machine.ts.
 */
export function leaseCommand(program: Command): void {
  const machine = program.commands.find((c) => c.name() === 'machine') ?? program.command('machine').description('manage machines');
  const lease = machine.command('lease').alias('leases').description("take, show and release a machine's lease");
  const appOption = ['-a, --app <name>', 'the app (or ALOFT_APP)', process.env['ALOFT_APP']] as const;

  lease
    .command('acquire <id>')
    .description('take the lease (or refresh it with --nonce); prints the nonce that later changes must send')
    .requiredOption(...appOption)
    .option('--ttl <seconds>', 'how long it lasts', (v) => Number(v), 30)
    .option('--description <text>', 'why it is held')
    .option('--nonce <nonce>', 'refresh the lease you hold instead of taking a new one')
    .option('--json', 'print the lease as JSON')
    .action(async (id: string, opts: { app: string; ttl: number; description?: string; nonce?: string; json?: boolean }) => {
      const client = await clientFromEnv();
      const answer = await client.request<LeaseView>(
        'POST',
        leasePath(opts.app, id),
        { ttl: opts.ttl, ...(opts.description ? { description: opts.description } : {}) },
        opts.nonce ? { [NONCE_HEADER]: opts.nonce } : {},
      );
      if (opts.json) printJson(answer.data);
      else say(describeLease(id, answer.data));
    });

  lease
    .command('show <id>')
    .description("show the machine's lease")
    .requiredOption(...appOption)
    .option('--json', 'print the lease as JSON')
    .action(async (id: string, opts: { app: string; json?: boolean }) => {
      const answer = await (await clientFromEnv()).get<LeaseView>(leasePath(opts.app, id));
      if (opts.json) printJson(answer.data);
      else say(describeLease(id, answer.data));
    });

  lease
    .command('release <id>')
    .description('release the lease you hold')
    .requiredOption(...appOption)
    .requiredOption('--nonce <nonce>', "the lease's nonce")
    .action(async (id: string, opts: { app: string; nonce: string }) => {
      await (await clientFromEnv()).request('DELETE', leasePath(opts.app, id), undefined, { [NONCE_HEADER]: opts.nonce });
      say(`Released the lease of machine ${id}`);
    });
}
