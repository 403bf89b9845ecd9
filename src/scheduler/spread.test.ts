import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isAloftError } from '../lib/errors.ts';
import type { HostLoad } from './host-load.ts';
import { guestDemand, type Resources } from './resources.ts';
import { spread, type Shortfall } from './spread.ts';

/** A simulated host list: `id@region` with its free resources (default: plenty). */
function hosts(...specs: [string, Partial<Resources>?][]): HostLoad[] {
  return specs.map(([spec, free], i) => {
    const [id, region] = spec.split('@') as [string, string];
    const all: Resources = { cpus: 8, memoryMb: 16_384, diskGb: 500, gpus: 0, ...free };
    return { host: { id, region, number: i + 1, ipv4Subnet: `172.${20 + i}.0.0/16`, drivers: ['runsc'] }, total: all, free: all };
  });
}

const small = guestDemand({ cpu_kind: 'shared', cpus: 1, memory_mb: 256 });
const tally = (placed: { id: string; region: string }[], by: 'id' | 'region'): Record<string, number> =>
  placed.reduce<Record<string, number>>((acc, h) => ({ ...acc, [h[by]]: (acc[h[by]] ?? 0) + 1 }), {});

describe('spread: placement over a list of hosts', () => {
  test('spreads evenly over the regions asked, in the order given for the odd one', () => {
    const placed = spread(hosts(['a1@ams'], ['f1@fra'], ['i1@iad']), { count: 5, demand: small, regions: ['fra', 'ams'] });
    assert.deepEqual(tally(placed, 'region'), { fra: 3, ams: 2 });
    assert.equal(placed[0]!.region, 'fra');
  });

  test('spreads over the hosts of a region, fewest of the group first', () => {
    const placed = spread(hosts(['a1@ams'], ['a2@ams'], ['a3@ams']), { count: 6, demand: small, regions: ['ams'] });
    assert.deepEqual(tally(placed, 'id'), { a1: 2, a2: 2, a3: 2 });
  });

  test('counts the Machines already there: new ones go where the group is thin', () => {
    const placed = spread(hosts(['a1@ams'], ['a2@ams'], ['f1@fra']), {
      count: 3,
      demand: small,
      regions: ['ams', 'fra'],
      existing: [{ hostId: 'a1', region: 'ams' }, { hostId: 'a2', region: 'ams' }],
    });
    assert.deepEqual(tally(placed, 'region'), { fra: 2, ams: 1 });
  });

  test('without regions, uses every region that has a host', () => {
    const placed = spread(hosts(['a1@ams'], ['f1@fra']), { count: 4, demand: small });
    assert.deepEqual(tally(placed, 'region'), { ams: 2, fra: 2 });
  });

  test('ties between hosts go to the one with the most free memory', () => {
    const placed = spread(hosts(['a1@ams', { memoryMb: 1024 }], ['a2@ams', { memoryMb: 8192 }]), { count: 1, demand: small });
    assert.equal(placed[0]!.id, 'a2');
  });

  test('takes each placement off the host: a host with room for two gets two, the rest go elsewhere', () => {
    const placed = spread(hosts(['a1@ams', { memoryMb: 512 }], ['a2@ams', { memoryMb: 16_384 }]), {
      count: 6,
      demand: small,
      existing: [{ hostId: 'a2', region: 'ams' }, { hostId: 'a2', region: 'ams' }, { hostId: 'a2', region: 'ams' }, { hostId: 'a2', region: 'ams' }],
    });
    assert.deepEqual(tally(placed, 'id'), { a1: 2, a2: 4 });
  });

  test('max-per-region caps each region, and the rest go to the other regions', () => {
    const placed = spread(hosts(['a1@ams'], ['f1@fra']), { count: 3, demand: small, regions: ['ams', 'fra'], maxPerRegion: 2, existing: [{ hostId: 'a1', region: 'ams' }] });
    assert.deepEqual(tally(placed, 'region'), { ams: 1, fra: 2 });
  });

  test('a region with no host, and one at its cap: the error names both and places nothing', () => {
    assert.throws(
      () => spread(hosts(['a1@ams']), { count: 2, demand: small, regions: ['ams', 'syd'], maxPerRegion: 1, what: 'machines of group web' }),
      (err: unknown) => {
        assert.ok(isAloftError(err, 'CAPACITY_EXHAUSTED'));
        assert.match(err.message, /^Cannot place 2 machines of group web as each must fit on a host with 0\.06 cpus, 256 MB memory free: only 1 of 2 fit/);
        assert.match(err.message, /region ams already has 1 \(max-per-region\)/);
        assert.match(err.message, /region syd has no host/);
        return true;
      },
    );
  });

  test('memory short: says which host, how much is free and how much is needed', () => {
    assert.throws(
      () => spread(hosts(['a1@ams', { memoryMb: 300 }]), { count: 2, demand: small }),
      (err: unknown) => {
        assert.ok(isAloftError(err, 'CAPACITY_EXHAUSTED'));
        assert.match(err.message, /only 1 of 2 fit; host a1 in ams has 44 MB memory free, 256 MB memory needed/);
        const shortfalls = err.details?.['shortfalls'] as Shortfall[];
        assert.deepEqual(shortfalls, [{ region: 'ams', host: 'a1', reason: 'resource', resource: 'memory', free: 44, needed: 256 }]);
        return true;
      },
    );
  });

  test('performance cpus take whole cores; shared ones a sixteenth', () => {
    const perf = guestDemand({ cpu_kind: 'performance', cpus: 2, memory_mb: 4096 });
    assert.throws(() => spread(hosts(['a1@ams', { cpus: 3 }]), { count: 2, demand: perf }), /host a1 in ams has 1 cpus free, 2 cpus needed/);
    assert.equal(spread(hosts(['a1@ams', { cpus: 1 }]), { count: 16, demand: small }).length, 16);
    assert.throws(() => spread(hosts(['a1@ams', { cpus: 1 }]), { count: 17, demand: small }), /only 16 of 17 fit; host a1 in ams has 0 cpus free, 0\.06 cpus needed/);
  });

  test('GPUs: a GPU Machine goes only where a GPU is free', () => {
    const gpu = guestDemand({ cpu_kind: 'performance', cpus: 8, memory_mb: 32_768, gpu_kind: 'a100-pcie-40gb' });
    const list = hosts(['c1@ord', { memoryMb: 65_536, cpus: 16 }], ['g1@ord', { memoryMb: 65_536, cpus: 16, gpus: 1 }]);
    assert.deepEqual(spread(list, { count: 1, demand: gpu }).map((h) => h.id), ['g1']);
    assert.throws(() => spread(list, { count: 2, demand: gpu }), /host c1 in ord has 0 GPUs free, 1 GPUs needed; host g1 in ord has 0 GPUs free, 1 GPUs needed/);
  });

  test('disk: a volume-sized demand goes to the host with the disk', () => {
    const volume: Resources = { cpus: 0, memoryMb: 0, diskGb: 40, gpus: 0 };
    const placed = spread(hosts(['a1@ams', { diskGb: 10 }], ['a2@ams', { diskGb: 100 }]), { count: 2, demand: volume });
    assert.deepEqual(placed.map((h) => h.id), ['a2', 'a2']);
    assert.throws(() => spread(hosts(['a1@ams', { diskGb: 10 }]), { count: 1, demand: volume }), /host a1 in ams has 10 GB disk free, 40 GB disk needed/);
  });

  test('many hosts, many regions: 100 Machines land within one of each other per region and per host', () => {
    const list = hosts(...['ams', 'fra', 'iad', 'sin'].flatMap((r) => [1, 2, 3].map((n): [string] => [`${r}${n}@${r}`])));
    const placed = spread(list, { count: 100, demand: small });
    const regions = Object.values(tally(placed, 'region'));
    const perHost = Object.values(tally(placed, 'id'));
    assert.ok(Math.max(...regions) - Math.min(...regions) <= 1, `regions ${regions.join(',')}`);
    assert.ok(Math.max(...perHost) - Math.min(...perHost) <= 1, `hosts ${perHost.join(',')}`);
  });
});

describe('spread at scale (bench world: 10,000 Machines over 1,000 hosts)', () => {
  test('a batch places exactly as one Machine at a time against the capacity left, and never past it', () => {
    const regions = ['ams', 'iad', 'sin', 'lhr', 'fra'];
    const sizes: Partial<Resources>[] = [{ cpus: 1, memoryMb: 1024 }, { cpus: 2, memoryMb: 4096 }, { cpus: 8, memoryMb: 16_384 }];
    const many = (): HostLoad[] => hosts(...Array.from({ length: 300 }, (_, i): [string, Partial<Resources>] => [`h${i}@${regions[i % 5]}`, sizes[i % 3]!]));
    const demand = guestDemand({ cpu_kind: 'shared', cpus: 2, memory_mb: 512 });
    const batch = spread(many(), { count: 2000, demand, regions: ['sin', 'ams', 'iad'] });

    const loads = many();
    const existing: { hostId: string; region: string }[] = [];
    const oneByOne = Array.from({ length: 2000 }, () => {
      const [host] = spread(loads, { count: 1, demand, regions: ['sin', 'ams', 'iad'], existing });
      const i = loads.findIndex((l) => l.host.id === host!.id);
      const free = loads[i]!.free;
      loads[i] = { ...loads[i]!, free: { ...free, cpus: free.cpus - demand.cpus, memoryMb: free.memoryMb - demand.memoryMb } };
      existing.push({ hostId: host!.id, region: host!.region });
      return host!;
    });
    assert.deepEqual(batch.map((h) => h.id), oneByOne.map((h) => h.id));
    for (const l of loads) assert.ok(l.free.memoryMb >= 0 && l.free.cpus >= -1e-9, `${l.host.id} over capacity: ${JSON.stringify(l.free)}`);
    // Capacity binds: the 1 GB hosts (every third) hold 2 of 512 MB each and no more, the larger ones take the rest.
    const perHost = tally(batch, 'id');
    const smallHosts = loads.filter((l) => l.total.memoryMb === 1024 && ['sin', 'ams', 'iad'].includes(l.host.region));
    assert.ok(smallHosts.every((l) => perHost[l.host.id] === 2), JSON.stringify(smallHosts.map((l) => perHost[l.host.id])));
    assert.equal(tally(batch, 'region')['lhr'], undefined);
  });
});
