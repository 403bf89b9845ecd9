import { chmod, rename, writeFile } from 'node:fs/promises';
import { dirname, join, basename } from 'node:path';
import type { Command } from 'commander';
import { clientFromEnv } from '../api-client.ts';
import { printJson, printTable, say } from '../output.ts';

/** A user peer as the API shows it. */
interface PeerView {
  org: string;
  name: string;
  region: string;
  gateway_host_id: string;
  public_key: string;
  address: string;
  created_at: string;
}

const orgQuery = (org: string | undefined): string => (org === undefined ? '' : `?${new URLSearchParams({ org }).toString()}`);

/** Writes the config 0600 (it holds the private key): a temp file beside it, then a rename, so no half-written file is left. */
async function writeConfig(path: string, config: string): Promise<void> {
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  await writeFile(temp, config, { mode: 0o600 });
  await chmod(temp, 0o600);
  await rename(temp, path);
}

/** `aloft wireguard create|list|remove`: user peers that join an org's private network from a laptop (as `fly wireguard`). */
export function wireguardCommand(program: Command): void {
  const wireguard = program.command('wireguard').alias('wg').description("join an org's private network from your own machine with a WireGuard peer");

  wireguard
    .command('create [org] [region] [name] [file]')
    .description('create a peer and print its wg-quick config (or write it to FILE, mode 0600); bring it up with: wg-quick up ./FILE')
    .option('--json', 'print the peer and its config as JSON')
    .action(async (org: string | undefined, region: string | undefined, name: string | undefined, file: string | undefined, opts: { json?: boolean }) => {
      const client = await clientFromEnv();
      const created = await client.post<{ peer: PeerView; config: string }>('/wireguard/peers', { ...(org ? { org } : {}), ...(region ? { region } : {}), ...(name ? { name } : {}) });
      if (opts.json) return printJson(created);
      if (file === undefined) {
        process.stdout.write(created.config);
        return;
      }
      await writeConfig(file, created.config);
      say(`Created peer ${created.peer.name} (${created.peer.address}) in org ${created.peer.org} through ${created.peer.region}; config written to ${file}. The private key is in that file only.`);
    });

  wireguard
    .command('list [org]')
    .description("list an org's peers")
    .option('--json', 'print JSON')
    .action(async (org: string | undefined, opts: { json?: boolean }) => {
      const client = await clientFromEnv();
      const peers = await client.get<PeerView[]>(`/wireguard/peers${orgQuery(org)}`);
      if (opts.json) return printJson(peers);
      if (peers.length === 0) return say('No WireGuard peers. Create one with: aloft wireguard create');
      printTable(['NAME', 'REGION', 'ADDRESS', 'PUBLIC KEY', 'CREATED'], peers.map((p) => [p.name, p.region, p.address, p.public_key, p.created_at]));
    });

  wireguard
    .command('remove <name>')
    .alias('rm')
    .description('remove a peer; its gateway stops accepting it at once')
    .option('--org <org>', "the peer's org (default: the token's)")
    .action(async (name: string, opts: { org?: string }) => {
      const client = await clientFromEnv();
      await client.delete(`/wireguard/peers/${encodeURIComponent(name)}${orgQuery(opts.org)}`);
      say(`Removed WireGuard peer ${name}.`);
    });
}
