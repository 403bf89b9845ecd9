import { z } from 'zod';
import { AloftError } from '../lib/errors.ts';
import { systemClock } from '../lib/clock.ts';
import { parseRegionList, type Machine, type MachineConfig, type Volume } from '../model/index.ts';
import { guestDemand, type HostInfo } from '../scheduler/index.ts';
import { MachineOps, type MachineOpsDeps } from './machine-ops.ts';
import { VolumeOps } from './volume-ops.ts';
import { parseInput } from './validate.ts';
import { takeLease } from './leases/take-lease.ts';
import { chooseExtras, chooseGroup, countable, groupOf, guestView, perRegion, vmSizeName } from './scale-plan.ts';
import { rollGuests, planGuests, type GuestChange } from './scale-guests.ts';

const group = z.string().regex(/^[a-z0-9_-]{1,63}$/, 'a process group name such as "app" or "worker"');

export const scaleCountRequestSchema = z.looseObject({
  count: z.number().int().min(0).max(1000),
  process_group: group.optional(),
  regions: z.array(z.string()).optional().meta({ description: 'Regions to spread over (codes from GET /v1/platform/regions); `count` is the total across them.' }),
  max_per_region: z.number().int().min(1).optional(),
  dry_run: z.boolean().optional(),
});

export const scaleVmRequestSchema = z.looseObject({
  process_group: group.optional(),
  size: z.string().optional().meta({ description: 'A named VM size (shared-cpu-1x, performance-2x, a100-40gb…).' }),
  memory_mb: z.number().int().optional(),
  dry_run: z.boolean().optional(),
  /** Seconds each Machine has to come back started before the roll stops. */
  wait_timeout: z.number().int().min(1).max(600).optional(),
});

/** One Machine a scale made or removed. */
export interface ScaledMachine {
  id: string;
  region: string;
  host: string;
  state: string;
  volume?: string;
}

export interface CountResult {
  process_group: string;
  dry_run: boolean;
  before: Record<string, number>;
  after: Record<string, number>;
  created: ScaledMachine[];
  destroyed: ScaledMachine[];
  /** Volumes of destroyed Machines, kept (as on Fly): destroy them with `aloft volumes destroy`. */
  volumes_kept: string[];
}

/**
 * `aloft scale`, server-side: the API knows the hosts and what each has free, so the
 * plan (which Machine to copy, which to remove, which host takes each new one) and
 * every check happen before the first write, and one scale per app runs at a time, so
 * two concurrent `scale count 3` cannot make five. New Machines are created through
 * MachineOps (and volumes through VolumeOps) on a scheduler pinned to the chosen host,
 * so they get exactly the checks of a Machines API create.
 */
export class ScaleOps {
  readonly #deps: MachineOpsDeps;
  readonly #ops: MachineOps;
  readonly #locks = new Map<string, Promise<unknown>>();

  constructor(deps: MachineOpsDeps) {
    this.#deps = deps;
    this.#ops = new MachineOps(deps);
  }

  /** Per group: how many Machines in each region, their VM sizes and memory, each Machine. */
  async show(appName: string): Promise<Record<string, unknown>[]> {
    await this.#ops.requireApp(appName);
    const machines = countable(await this.#deps.store.listMachines({ appName }));
    const groups = [...new Set(machines.map(groupOf))].sort();
    return groups.map((name) => {
      const members = machines.filter((m) => groupOf(m) === name);
      const tally = (key: (m: Machine) => string): Record<string, number> =>
        members.reduce<Record<string, number>>((acc, m) => ({ ...acc, [key(m)]: (acc[key(m)] ?? 0) + 1 }), {});
      return {
        process_group: name,
        count: members.length,
        regions: perRegion(members),
        vm_sizes: tally((m) => vmSizeName(m.config.guest)),
        memory_mb: tally((m) => String(guestView(m.config.guest).memory_mb)),
        machines: members.map((m) => ({ id: m.id, name: m.name, region: m.region, host: m.hostId, state: m.state, ...guestView(m.config.guest) })),
      };
    });
  }

  /** Makes the group (within the regions asked) `count` Machines: clones of its newest, or fewer by removing extras. */
  count(appName: string, body: unknown): Promise<CountResult> {
    const request = parseInput(scaleCountRequestSchema, body, 'scale count');
    return this.#serial(appName, async () => {
      await this.#ops.requireApp(appName);
      const action = 'scale count';
      const regions = request.regions === undefined ? undefined : parseRegionList(request.regions, action, 'regions').map((r) => r.code);
      const all = countable(await this.#deps.store.listMachines({ appName }));
      const name = chooseGroup(all, request.process_group, action);
      const members = all.filter((m) => groupOf(m) === name);
      const scope = regions === undefined ? members : members.filter((m) => regions.includes(m.region));
      const result: CountResult = { process_group: name, dry_run: request.dry_run === true, before: perRegion(scope), after: perRegion(scope), created: [], destroyed: [], volumes_kept: [] };
      if (request.count > scope.length) await this.#grow(appName, request, { members, scope, regions, result });
      else if (request.count < scope.length) await this.#shrink(appName, request.count, scope, result);
      return result;
    });
  }

  /** Changes every Machine of the group to a VM size and/or memory, one at a time; see scale-guests.ts. */
  vm(appName: string, body: unknown): Promise<Record<string, unknown>> {
    const request = parseInput(scaleVmRequestSchema, body, 'scale vm');
    return this.#serial(appName, async () => {
      await this.#ops.requireApp(appName);
      const action = request.size === undefined ? 'scale memory' : 'scale vm';
      if (request.size === undefined && request.memory_mb === undefined) {
        throw new AloftError('INVALID_ARGUMENT', `Cannot scale vm as 'size' or 'memory_mb' must be given: got neither`, { details: { field: 'size' } });
      }
      const all = countable(await this.#deps.store.listMachines({ appName }));
      const name = chooseGroup(all, request.process_group, action);
      const members = all.filter((m) => groupOf(m) === name);
      const change: GuestChange = { size: request.size, memoryMb: request.memory_mb };
      const plan = await planGuests(this.#deps, members, change, action);
      const machines = plan.map((p) => ({ id: p.machine.id, name: p.machine.name, region: p.machine.region, host: p.machine.hostId, state: p.machine.state, before: guestView(p.machine.config.guest), after: guestView(p.guest), changed: p.changed }));
      if (request.dry_run) return { process_group: name, dry_run: true, machines, updated: [] };
      const updated = await rollGuests(this.#deps, plan, { timeoutMs: (request.wait_timeout ?? 60) * 1000, action });
      return { process_group: name, dry_run: false, machines, updated };
    });
  }

  async #grow(
    appName: string,
    request: z.infer<typeof scaleCountRequestSchema>,
    ctx: { members: Machine[]; scope: Machine[]; regions: string[] | undefined; result: CountResult },
  ): Promise<void> {
    const { store, scheduler } = this.#deps;
    const template = newest(ctx.members);
    if (!template) {
      throw new AloftError(
        'SCALE_NOTHING_TO_CLONE',
        `Cannot scale count as 'process_group' must name a group with a machine to copy: got "${ctx.result.process_group}", which has none; deploy it first (aloft deploy)`,
        { details: { field: 'process_group' } },
      );
    }
    await this.#requireSameImage(template);
    const volume = await templateVolume(this.#deps.store, template);
    const regions = ctx.regions ?? (ctx.scope.length > 0 ? Object.keys(perRegion(ctx.scope)) : [template.region]);
    const add = request.count - ctx.scope.length;
    const hosts = await scheduler.spread(store, {
      count: add,
      demand: { ...guestDemand(template.config.guest), diskGb: volume?.sizeGb ?? 0 },
      regions,
      maxPerRegion: request.max_per_region,
      existing: ctx.scope.map((m) => ({ hostId: m.hostId, region: m.region })),
      what: `${add === 1 ? 'machine' : 'machines'} of group ${ctx.result.process_group} (${vmSizeName(template.config.guest)}${volume ? `, each with a ${volume.sizeGb} GB volume` : ''})`,
    });
    for (const host of hosts) ctx.result.after[host.region] = (ctx.result.after[host.region] ?? 0) + 1;
    if (request.dry_run) {
      ctx.result.created = hosts.map((h) => ({ id: '', region: h.region, host: h.id, state: 'planned' }));
      return;
    }
    for (const host of hosts) ctx.result.created.push(await this.#clone(appName, template, volume, host));
  }

  /** One copy of `template` on `host`; a template with a volume gets a new empty volume of the same name and size there. */
  async #clone(appName: string, template: Machine, volume: Volume | undefined, host: HostInfo): Promise<ScaledMachine> {
    const pinned = { ...this.#deps, scheduler: this.#deps.scheduler.pinned(host) };
    let config: MachineConfig = template.config;
    let made: Volume | undefined;
    if (volume) {
      made = await new VolumeOps(pinned).create(appName, { name: volume.name, size_gb: volume.sizeGb, region: host.region });
      config = { ...config, mounts: (config.mounts ?? []).map((m) => (m.volume === volume.id ? { ...m, volume: made!.id } : m)) };
    }
    try {
      const machine = await new MachineOps(pinned).create(appName, { region: host.region, config });
      return { id: machine.id, region: machine.region, host: machine.hostId, state: machine.state, ...(made ? { volume: made.id } : {}) };
    } catch (err) {
      if (made) await new VolumeOps(pinned).destroy(appName, made.id).catch(() => undefined);
      throw err;
    }
  }

  async #shrink(appName: string, count: number, scope: Machine[], result: CountResult): Promise<void> {
    const extras = chooseExtras(scope, scope.length - count);
    for (const m of extras) result.after[m.region] = (result.after[m.region] ?? 0) - 1;
    for (const region of Object.keys(result.after)) if (result.after[region] === 0) delete result.after[region];
    result.destroyed = extras.map((m) => ({ id: m.id, region: m.region, host: m.hostId, state: m.state }));
    const volumes = await this.#deps.store.listVolumes({ appName });
    result.volumes_kept = volumes.filter((v) => extras.some((m) => m.id === v.attachedMachineId)).map((v) => v.id);
    if (result.dry_run) return;
    // Leases first, all of them: a Machine a deploy holds stops the scale before anything is removed.
    const clock = this.#deps.clock ?? systemClock;
    const leases = [];
    try {
      for (const m of extras) leases.push(await takeLease(this.#deps.store, clock, { machineId: m.id, ttlSeconds: 60, owner: 'aloft scale', description: 'scale count' }));
      for (const m of extras) await this.#ops.destroy(appName, m.id, true);
    } finally {
      for (const lease of leases) await this.#deps.store.releaseLease(lease.machineId, lease.nonce, clock.now()).catch(() => undefined);
    }
  }

  /** Clones run the template's image: refused when its tag now names another digest (a deploy changes images, a scale never does). */
  async #requireSameImage(template: Machine): Promise<void> {
    const now = await this.#deps.images.resolve(template.config.image);
    if (now.digest !== template.imageRef.digest) {
      throw new AloftError(
        'SCALE_IMAGE_MOVED',
        `Cannot scale count as the image of machine ${template.id} must still be ${template.imageRef.digest}: got "${template.config.image}" now naming ${now.digest}; deploy to roll out the new image, then scale`,
        { details: { machineId: template.id } },
      );
    }
  }

  /** Runs scale operations of one app one after another. */
  async #serial<T>(appName: string, work: () => Promise<T>): Promise<T> {
    const previous = this.#locks.get(appName) ?? Promise.resolve();
    const run = previous.catch(() => undefined).then(work);
    this.#locks.set(appName, run);
    try {
      return await run;
    } finally {
      if (this.#locks.get(appName) === run) this.#locks.delete(appName);
    }
  }
}

/** The Machine to copy: the newest started one, else the newest. */
function newest(machines: readonly Machine[]): Machine | undefined {
  const byAge = [...machines].sort((a, b) => b.createdAt - a.createdAt);
  return byAge.find((m) => m.state === 'started') ?? byAge[0];
}

async function templateVolume(store: MachineOpsDeps['store'], template: Machine): Promise<Volume | undefined> {
  const id = template.config.mounts?.find((m) => m.volume !== undefined)?.volume;
  const volume = id === undefined ? undefined : await store.getVolume(id);
  return volume;
}

