import { createInterface } from 'node:readline/promises';
import type { Command } from 'commander';
import pc from 'picocolors';
import { parseRegionList } from '../../model/regions.ts';
import { clientFromEnv } from '../api-client.ts';
import { colourState, printJson, printTable, say } from '../output.ts';

interface Scaled {
  id: string;
  region: string;
  host: string;
  state: string;
  volume?: string;
}
interface CountResult {
  process_group: string;
  before: Record<string, number>;
  after: Record<string, number>;
  created: Scaled[];
  destroyed: Scaled[];
  volumes_kept: string[];
}
interface GuestView {
  size: string;
  cpus: number;
  memory_mb: number;
}
interface VmResult {
  process_group: string;
  machines: { id: string; name: string; region: string; state: string; before: GuestView; after: GuestView; changed: boolean }[];
  updated: string[];
}
interface GroupView {
  process_group: string;
  count: number;
  regions: Record<string, number>;
  vm_sizes: Record<string, number>;
  memory_mb: Record<string, number>;
}

const scalePath = (app: string, what = ''): string => `/apps/${encodeURIComponent(app)}/scale${what}`;

/** A whole number from a flag or argument, or an error in the house format. */
function wholeNumber(what: string, value: string, min: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new Error(`Cannot scale as '${what}' must be a whole number of at least ${min}: got "${value}"`);
  return n;
}

/** "local 1 → 2, fra 0 → 2" */
function regionChanges(before: Record<string, number>, after: Record<string, number>): string {
  const regions = [...new Set([...Object.keys(before), ...Object.keys(after)])];
  return regions.map((r) => `${r} ${before[r] ?? 0} → ${after[r] ?? 0}`).join(', ') || 'no machines';
}

/**
 * Asks before a change that removes or restarts Machines: on a terminal, y/N; elsewhere
 * (scripts, CI) only `--yes` goes ahead, as a script cannot answer.
 */
async function confirm(question: string, yes: boolean | undefined): Promise<void> {
  if (yes) return;
  if (!process.stdin.isTTY) throw new Error(`Cannot go ahead as '--yes' must be given when not at a terminal: got nothing (${question})`);
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  const answer = (await rl.question(`${question} [y/N] `)).trim().toLowerCase();
  rl.close();
  if (answer !== 'y' && answer !== 'yes') throw new Error('Cannot go ahead as the answer must be yes: got no; nothing was changed');
}

function printGuestPlan(plan: VmResult): void {
  printTable(
    ['MACHINE', 'REGION', 'STATE', 'BEFORE', 'AFTER'],
    plan.machines.map((m) => [m.id, m.region, colourState(m.state), `${m.before.size} ${m.before.memory_mb} MB`, m.changed ? pc.bold(`${m.after.size} ${m.after.memory_mb} MB`) : 'unchanged']),
  );
}

/** `scale vm` and `scale memory`: the plan first (before/after), then the rolling update. */
async function scaleGuest(app: string, body: Record<string, unknown>, opts: { yes?: boolean; json?: boolean }): Promise<void> {
  const client = await clientFromEnv();
  const plan = await client.post<VmResult>(scalePath(app, '/vm'), { ...body, dry_run: true });
  const changing = plan.machines.filter((m) => m.changed);
  if (!opts.json) printGuestPlan(plan);
  if (changing.length === 0) return opts.json ? printJson(plan) : say(`Group ${plan.process_group}: every machine already has that size`);
  if (!opts.json) say(`Group ${plan.process_group}: ${changing.length} machine(s) will be updated one at a time; running ones restart`);
  await confirm(`Resize ${changing.length} machine(s) of ${app}?`, opts.yes);
  const done = await client.post<VmResult>(scalePath(app, '/vm'), body);
  if (opts.json) return printJson(done);
  say(`Updated ${done.updated.length} machine(s) of group ${done.process_group}`);
}

/** `aloft scale count|vm|memory|show`. */
export function scaleCommand(program: Command): void {
  const scale = program.command('scale').description("change an app's machine count, VM size or memory, per process group");

  scale
    .command('count <n>')
    .description('make a process group N machines: clones of its newest machine, spread over regions and hosts, or fewer (idle ones go first)')
    .requiredOption('-a, --app <app>', 'the app')
    .option('-g, --process-group <group>', 'the process group (needed when the app has several)')
    .option('-r, --region <regions>', 'regions to spread over, comma-separated; N is the total across them (default: where the group is now)')
    .option('--max-per-region <m>', 'at most M machines of the group per region')
    .option('-y, --yes', 'do not ask before destroying machines')
    .option('--json', 'print the result as JSON')
    .action(async (n: string, opts: { app: string; processGroup?: string; region?: string; maxPerRegion?: string; yes?: boolean; json?: boolean }) => {
      const body: Record<string, unknown> = {
        count: wholeNumber('count', n, 0),
        ...(opts.processGroup ? { process_group: opts.processGroup } : {}),
        ...(opts.region ? { regions: parseRegionList(opts.region, 'scale count', 'region').map((r) => r.code) } : {}),
        ...(opts.maxPerRegion ? { max_per_region: wholeNumber('max-per-region', opts.maxPerRegion, 1) } : {}),
      };
      const client = await clientFromEnv();
      const plan = await client.post<CountResult>(scalePath(opts.app, '/count'), { ...body, dry_run: true });
      if (plan.created.length === 0 && plan.destroyed.length === 0) {
        return opts.json ? printJson(plan) : say(`Group ${plan.process_group} already has ${n} machine(s): ${regionChanges(plan.before, plan.after)}`);
      }
      if (!opts.json) say(`Group ${plan.process_group}: ${regionChanges(plan.before, plan.after)}`);
      if (plan.destroyed.length > 0) {
        if (!opts.json) say(`Destroying ${plan.destroyed.map((m) => `${m.id} (${m.region}, ${m.state})`).join(', ')}`);
        await confirm(`Destroy ${plan.destroyed.length} machine(s) of ${opts.app}?`, opts.yes);
      }
      const done = await client.post<CountResult>(scalePath(opts.app, '/count'), body);
      if (opts.json) return printJson(done);
      for (const m of done.created) say(`Created ${m.id} in ${m.region} on host ${m.host}${m.volume ? ` with volume ${m.volume}` : ''}`);
      for (const m of done.destroyed) say(`Destroying ${m.id} in ${m.region}`);
      if (done.volumes_kept.length > 0) say(`Kept their volumes (destroy with aloft volumes destroy): ${done.volumes_kept.join(', ')}`);
    });

  scale
    .command('vm <size>')
    .description('set every machine of a process group to a named VM size (shared-cpu-1x, performance-2x…): a rolling update')
    .requiredOption('-a, --app <app>', 'the app')
    .option('-g, --process-group <group>', 'the process group (needed when the app has several)')
    .option('--memory <mb>', "memory in MB (default: the size's)")
    .option('-y, --yes', 'do not ask before restarting machines')
    .option('--json', 'print the result as JSON')
    .action(async (size: string, opts: { app: string; processGroup?: string; memory?: string; yes?: boolean; json?: boolean }) => {
      const body = { size, ...(opts.memory ? { memory_mb: wholeNumber('memory', opts.memory, 1) } : {}), ...(opts.processGroup ? { process_group: opts.processGroup } : {}) };
      await scaleGuest(opts.app, body, opts);
    });

  scale
    .command('memory <mb>')
    .description('set the memory of every machine of a process group: a rolling update')
    .requiredOption('-a, --app <app>', 'the app')
    .option('-g, --process-group <group>', 'the process group (needed when the app has several)')
    .option('-y, --yes', 'do not ask before restarting machines')
    .option('--json', 'print the result as JSON')
    .action(async (mb: string, opts: { app: string; processGroup?: string; yes?: boolean; json?: boolean }) => {
      const body = { memory_mb: wholeNumber('memory', mb, 1), ...(opts.processGroup ? { process_group: opts.processGroup } : {}) };
      await scaleGuest(opts.app, body, opts);
    });

  scale
    .command('show')
    .description("an app's machines per process group: count per region, VM size, memory")
    .requiredOption('-a, --app <app>', 'the app')
    .option('--json', 'print JSON')
    .action(async (opts: { app: string; json?: boolean }) => {
      const client = await clientFromEnv();
      const groups = await client.get<GroupView[]>(scalePath(opts.app));
      if (opts.json) return printJson(groups);
      if (groups.length === 0) return say(`No machines in ${opts.app}. Deploy first: aloft deploy`);
      const list = (counts: Record<string, number>): string => Object.entries(counts).map(([k, v]) => `${k}×${v}`).join(', ');
      printTable(
        ['GROUP', 'COUNT', 'REGIONS', 'VM SIZE', 'MEMORY MB'],
        groups.map((g) => [g.process_group, String(g.count), list(g.regions), list(g.vm_sizes), list(g.memory_mb)]),
      );
    });
}
