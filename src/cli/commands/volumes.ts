import type { Command } from 'commander';
import { clientFromEnv } from '../api-client.ts';
import { colourState, printJson, printTable, say } from '../output.ts';
import { requireRegion } from '../../model/regions.ts';

/** The Volume fields the CLI shows (Fly's `Volume`). */
interface VolumeView {
  id: string;
  name: string;
  state: string;
  region: string;
  zone: string;
  size_gb: number;
  encrypted: boolean;
  snapshot_retention: number;
  auto_backup_enabled: boolean;
  attached_machine_id: string | null;
  created_at: string;
}

interface SnapshotView {
  id: string;
  status: string;
  size: number;
  digest: string;
  volume_size: number;
  created_at: string;
}

/** A whole number of GB from `--size`, or an error in the house format. */
function sizeGb(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`Cannot use --size as it must be a whole number of GB, at least 1: got "${value}"`);
  return n;
}

const path = (app: string, id?: string): string => `/apps/${encodeURIComponent(app)}/volumes${id === undefined ? '' : `/${encodeURIComponent(id)}`}`;

/** Bytes as a person reads them: 12.3 MB. */
function humanBytes(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]!}`;
}

/** `aloft volumes create|list|show|extend|fork|destroy|snapshots`. */
export function volumesCommand(program: Command): void {
  const volumes = program.command('volumes').alias('volume').description("manage volumes: slices of a host's disk that a machine mounts");

  volumes
    .command('create <name>')
    .description('create a volume')
    .requiredOption('-a, --app <app>', 'the app')
    .option('-s, --size <gb>', 'size in GB', '1')
    .option('-r, --region <region>', 'region (default: any)')
    .option('--host <host>', 'the host to put it on (default: a host of the region with room)')
    .option('--snapshot-id <id>', 'restore from this snapshot (on its host)')
    .option('--json', 'print the volume as JSON')
    .action(async (name: string, opts: { app: string; size: string; region?: string; host?: string; snapshotId?: string; json?: boolean }) => {
      const client = await clientFromEnv();
      const body = {
        name,
        size_gb: sizeGb(opts.size),
        ...(opts.region ? { region: requireRegion(opts.region, 'create volume').code } : {}),
        ...(opts.host ? { host: opts.host } : {}),
        ...(opts.snapshotId ? { snapshot_id: opts.snapshotId } : {}),
      };
      const volume = await client.post<VolumeView>(path(opts.app), body);
      if (opts.json) return printJson(volume);
      say(`Created volume ${volume.id} (${volume.name}, ${volume.size_gb} GB) in region ${volume.region} on host ${volume.zone}`);
      say(`Mount it with config.mounts: [{"volume": "${volume.id}", "path": "/data"}]`);
    });

  volumes
    .command('list')
    .description("list an app's volumes")
    .requiredOption('-a, --app <app>', 'the app')
    .option('--json', 'print JSON')
    .action(async (opts: { app: string; json?: boolean }) => {
      const client = await clientFromEnv();
      const list = await client.get<VolumeView[]>(path(opts.app));
      if (opts.json) return printJson(list);
      if (list.length === 0) return say(`No volumes in ${opts.app}. Create one with: aloft volumes create NAME --app ${opts.app} --size 1`);
      printTable(
        ['ID', 'NAME', 'STATE', 'SIZE', 'REGION', 'HOST', 'ATTACHED MACHINE', 'CREATED'],
        list.map((v) => [v.id, v.name, colourState(v.state), `${v.size_gb}GB`, v.region, v.zone, v.attached_machine_id ?? '', v.created_at]),
      );
    });

  volumes
    .command('show <id>')
    .description('show one volume')
    .requiredOption('-a, --app <app>', 'the app')
    .option('--json', 'print JSON')
    .action(async (id: string, opts: { app: string; json?: boolean }) => {
      const client = await clientFromEnv();
      const v = await client.get<VolumeView>(path(opts.app, id));
      if (opts.json) return printJson(v);
      const rows: [string, string][] = [
        ['ID', v.id],
        ['Name', v.name],
        ['State', colourState(v.state)],
        ['Size', `${v.size_gb} GB`],
        ['Region', v.region],
        ['Host', v.zone],
        ['Attached machine', v.attached_machine_id ?? '-'],
        ['Snapshot retention', `${v.snapshot_retention} days`],
        ['Daily backups', v.auto_backup_enabled ? 'on (recorded; not taken automatically yet)' : 'off'],
        ['Encrypted', v.encrypted ? 'yes' : 'no'],
        ['Created', v.created_at],
      ];
      for (const [key, value] of rows) say(`${key.padEnd(20)}${value}`);
    });

  volumes
    .command('extend <id>')
    .description('grow a volume (volumes never shrink)')
    .requiredOption('-a, --app <app>', 'the app')
    .requiredOption('-s, --size <gb>', 'the new size in GB')
    .option('--json', 'print the answer as JSON')
    .action(async (id: string, opts: { app: string; size: string; json?: boolean }) => {
      const client = await clientFromEnv();
      const result = await client.request<{ volume: VolumeView; needs_restart: boolean }>('PUT', `${path(opts.app, id)}/extend`, { size_gb: sizeGb(opts.size) });
      if (opts.json) return printJson(result);
      say(`Extending volume ${id} to ${result.volume.size_gb} GB`);
      if (result.needs_restart) say(`Restart machine ${result.volume.attached_machine_id ?? ''} to be sure it sees the new size`);
    });

  volumes
    .command('fork <id>')
    .description('a new volume with the same data: a consistent copy, on another host or region if asked (the way off a full host)')
    .requiredOption('-a, --app <app>', 'the app')
    .option('-n, --name <name>', "the new volume's name (default: the source's)")
    .option('-s, --size <gb>', "its size in GB (default: the source's; at least that)")
    .option('-r, --region <region>', "region (default: the source's)")
    .option('--host <host>', "the host to put it on (default: the source's, or a host of --region with room)")
    .option('--json', 'print the new volume as JSON')
    .action(async (id: string, opts: { app: string; name?: string; size?: string; region?: string; host?: string; json?: boolean }) => {
      const client = await clientFromEnv();
      const source = await client.get<VolumeView>(path(opts.app, id));
      const body = {
        name: opts.name ?? source.name,
        source_volume_id: source.id,
        ...(opts.size ? { size_gb: sizeGb(opts.size) } : {}),
        ...(opts.region ? { region: requireRegion(opts.region, 'fork volume').code } : {}),
        ...(opts.host ? { host: opts.host } : {}),
      };
      const fork = await client.post<VolumeView>(path(opts.app), body);
      if (opts.json) return printJson(fork);
      say(`Forking volume ${source.id} (${source.zone}, ${source.region}) into ${fork.id} (${fork.name}, ${fork.size_gb} GB) on host ${fork.zone} in ${fork.region}`);
      say(`Mount it with config.mounts: [{"volume": "${fork.id}", "path": "/data"}]; the machine will run on ${fork.zone}`);
    });

  volumes
    .command('destroy <id>')
    .description('destroy a volume and its snapshots')
    .requiredOption('-a, --app <app>', 'the app')
    .action(async (id: string, opts: { app: string }) => {
      const client = await clientFromEnv();
      await client.delete(path(opts.app, id));
      say(`Destroying volume ${id}`);
    });

  const snapshots = volumes.command('snapshots').description("a volume's snapshots");

  snapshots
    .command('list <id>')
    .description("list a volume's snapshots, newest first")
    .requiredOption('-a, --app <app>', 'the app')
    .option('--json', 'print JSON')
    .action(async (id: string, opts: { app: string; json?: boolean }) => {
      const client = await clientFromEnv();
      const list = await client.get<SnapshotView[]>(`${path(opts.app, id)}/snapshots`);
      if (opts.json) return printJson(list);
      if (list.length === 0) return say(`No snapshots of ${id}. Take one with: aloft volumes snapshots create ${id} --app ${opts.app}`);
      printTable(
        ['ID', 'STATUS', 'SIZE', 'VOLUME SIZE', 'DIGEST', 'CREATED'],
        list.map((s) => [s.id, colourState(s.status), humanBytes(s.size), `${s.volume_size}GB`, s.digest.slice(0, 19), s.created_at]),
      );
    });

  snapshots
    .command('create <id>')
    .description('snapshot a volume now')
    .requiredOption('-a, --app <app>', 'the app')
    .option('--json', 'print the snapshot as JSON')
    .action(async (id: string, opts: { app: string; json?: boolean }) => {
      const client = await clientFromEnv();
      const snapshot = await client.post<SnapshotView>(`${path(opts.app, id)}/snapshots`);
      if (opts.json) return printJson(snapshot);
      say(`Taking snapshot ${snapshot.id} of volume ${id}`);
    });
}
