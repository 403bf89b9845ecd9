import type { Command } from 'commander';
import { clientFromEnv } from '../api-client.ts';
import { printJson, printTable } from '../output.ts';

interface RegionView {
  code: string;
  name: string;
  group: string;
  group_name: string;
  eu: boolean;
  hosts: number;
}

/** `aloft regions list`: every region code with its area and EU flag, marking those this platform has hosts in. */
export function regionsCommand(program: Command): void {
  const regions = program.command('regions').description('region codes, their areas, and where this platform has hosts');
  regions
    .command('list')
    .description('list every region with its group; * marks regions with hosts')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const client = await clientFromEnv();
      const list = await client.get<RegionView[]>('/platform/regions');
      if (opts.json) return printJson(list);
      printTable(
        ['', 'CODE', 'NAME', 'GROUP', 'EU', 'HOSTS'],
        list.map((r) => [r.hosts > 0 ? '*' : '', r.code, r.name, r.group_name, r.eu ? 'yes' : '', String(r.hosts)]),
      );
    });
}
