import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseAppConfig } from '../config/index.ts';
import type { Machine, MachineGuest } from '../model/index.ts';
import { sampleMachine } from '../store/testing.ts';
import { batchSize, inBatches } from './max-unavailable.ts';
import { planDeploy } from './plan.ts';

const TWO_GROUPS = `
app = "hello"
primary_region = "ams"
[processes]
  web = "httpd -f"
  worker = "sleep infinity"
[http_service]
  internal_port = 8080
  processes = ["web"]
`;

function machine(group: string | undefined, guest?: MachineGuest, extra: Record<string, string> = {}): Machine {
  const m = sampleMachine({ appName: 'hello', state: 'started' });
  return { ...m, config: { ...m.config, ...(guest ? { guest } : {}), metadata: { ...(group ? { fly_process_group: group } : {}), ...extra } } };
}

const configOf = (toml: string) => parseAppConfig(toml, 'fly.toml').config;

describe('planDeploy', () => {
  test('a first deploy creates one Machine per process group in primary_region', () => {
    const plan = planDeploy(configOf(TWO_GROUPS), 'img:v1', []);
    assert.equal(plan.firstDeploy, true);
    assert.deepEqual(plan.groups.map((g) => [g.group, g.update.length, g.create.map((c) => c.region)]), [['web', 0, ['ams']], ['worker', 0, ['ams']]]);
    assert.deepEqual(plan.groups[0]!.create[0]!.config.init?.cmd, ['httpd', '-f']);
    assert.equal(plan.groups[0]!.create[0]!.config.metadata?.['fly_process_group'], 'web');
    assert.equal(plan.groups[1]!.create[0]!.config.services, undefined, 'the worker has no http_service');
    assert.deepEqual(plan.destroy, []);
  });

  test('existing Machines are updated in place: same ids, the count kept, each with its group’s config', () => {
    const web = [machine('web'), machine('web'), machine('web')];
    const worker = machine('worker');
    const plan = planDeploy(configOf(TWO_GROUPS), 'img:v2', [...web, worker]);
    assert.equal(plan.firstDeploy, false);
    const [webPlan, workerPlan] = plan.groups;
    assert.deepEqual(webPlan!.update.map((u) => u.machine.id), web.map((m) => m.id));
    assert.deepEqual(webPlan!.create, []);
    assert.deepEqual(workerPlan!.update.map((u) => u.machine.id), [worker.id]);
    assert.ok(webPlan!.update.every((u) => u.config.image === 'img:v2' && u.config.init?.cmd?.[0] === 'httpd'));
  });

  test('a group added to the config gets one Machine; Machines of a group dropped from it are destroyed', () => {
    const old = machine('app');
    const web = machine('web');
    const plan = planDeploy(configOf(TWO_GROUPS), 'img:v2', [old, web]);
    assert.deepEqual(plan.destroy.map((m) => m.id), [old.id]);
    assert.equal(plan.groups.find((g) => g.group === 'worker')!.create.length, 1);
    assert.equal(plan.groups.find((g) => g.group === 'web')!.create.length, 0);
  });

  test('a Machine without a process group is in "app", as flyctl reads it', () => {
    const bare = machine(undefined);
    const plan = planDeploy(configOf('app = "hello"\n'), 'img', [bare]);
    assert.deepEqual(plan.groups.map((g) => [g.group, g.update.map((u) => u.machine.id)]), [['app', [bare.id]]]);
  });

  test('without [[vm]] every Machine keeps its own size: no silent reset to the default (Fly #1310)', () => {
    const big = machine('app', { cpu_kind: 'performance', cpus: 2, memory_mb: 4096 });
    const plan = planDeploy(configOf('app = "hello"\n'), 'img', [big]);
    assert.deepEqual(plan.groups[0]!.update[0]!.config.guest, { cpu_kind: 'performance', cpus: 2, memory_mb: 4096 });
    assert.deepEqual(plan.vmSizeChanges, []);
  });

  test('a [[vm]] size different from a Machine’s is applied and listed as a change, from and to', () => {
    const small = machine('app', { cpu_kind: 'shared', cpus: 1, memory_mb: 256, driver: 'microvm' });
    const same = machine('app', { cpu_kind: 'shared', cpus: 2, memory_mb: 512 });
    const plan = planDeploy(configOf('app = "hello"\n[[vm]]\n  size = "shared-cpu-2x"\n'), 'img', [small, same]);
    assert.deepEqual(plan.vmSizeChanges, [{ machine: small.id, group: 'app', from: 'shared 1x 256MB', to: 'shared 2x 512MB' }]);
    assert.deepEqual(plan.groups[0]!.update[0]!.config.guest, { cpu_kind: 'shared', cpus: 2, memory_mb: 512, driver: 'microvm' }, 'the runtime is kept');
  });

  test('[[vm]] for one group only sizes that group', () => {
    const worker = machine('worker', { cpu_kind: 'performance', cpus: 1, memory_mb: 2048 });
    const plan = planDeploy(configOf(`${TWO_GROUPS}\n[[vm]]\n  memory = "1gb"\n  processes = ["web"]\n`), 'img', [machine('web'), worker]);
    assert.equal(plan.groups[0]!.update[0]!.config.guest?.memory_mb, 1024);
    assert.deepEqual(plan.groups[1]!.update[0]!.config.guest, worker.config.guest);
    assert.deepEqual(plan.vmSizeChanges.map((c) => c.group), ['web']);
  });

  test('the release command’s Machine and canaries are not the app’s: never updated nor destroyed', () => {
    const release = machine('fly_app_release_command', undefined, { aloft_role: 'release_command' });
    const canary = machine('web', undefined, { aloft_role: 'canary' });
    const plan = planDeploy(configOf(TWO_GROUPS), 'img', [release, canary]);
    assert.equal(plan.firstDeploy, true);
    assert.deepEqual(plan.destroy, []);
    assert.ok(plan.groups.every((g) => g.update.length === 0));
  });

  test('an updated Machine keeps its volume', () => {
    const withVolume = machine('app');
    withVolume.config.mounts = [{ volume: 'vol_123', path: '/data', name: 'data' }];
    const plan = planDeploy(configOf('app = "hello"\n[mounts]\n  source = "data"\n  destination = "/data"\n'), 'img', [withVolume]);
    assert.deepEqual(plan.groups[0]!.update[0]!.config.mounts, [{ volume: 'vol_123', path: '/data', name: 'data' }]);
  });
});

describe('max_unavailable', () => {
  test('default 1; a whole number as is; a fraction of the Machines rounded up, at least 1', () => {
    assert.equal(batchSize(undefined, 10), 1);
    assert.equal(batchSize(3, 10), 3);
    assert.equal(batchSize(0.33, 10), 4);
    assert.equal(batchSize(0.1, 3), 1);
    assert.throws(() => batchSize(1.5, 3), /Cannot deploy as 'deploy.max_unavailable' must be a fraction between 0 and 1, or a whole number of Machines: got 1.5/);
    assert.deepEqual(inBatches([1, 2, 3, 4, 5], 2), [[1, 2], [3, 4], [5]]);
  });
});
