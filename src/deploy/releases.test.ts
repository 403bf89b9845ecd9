import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { HealthOutcome } from './health-gate.ts';
import { openDeployHarness, type DeployHarness, type StreamedEvent } from './testing/deploy-harness.ts';
import { fakeGate } from './testing/fake-gate.ts';
import type { OnStart } from './testing/fake-agent.ts';

/** Releases through the API: conflicts and leases, the release command, rollback and auto_rollback. */

const V1 = `sha256:${'a'.repeat(64)}`;
const V2 = `sha256:${'b'.repeat(64)}`;
const TOML = (deploy = ''): string => `
app = "rel"
primary_region = "local"
[deploy]
  wait_timeout = "20s"
${deploy}
[http_service]
  internal_port = 8080
`;
const messages = (events: StreamedEvent[]): string => events.map((e) => `${e.release} ${e.type}: ${e.message}`).join('\n');

async function withHarness(options: { decide?: Parameters<typeof fakeGate>[1]; onStart?: OnStart }, fn: (h: DeployHarness) => Promise<void>): Promise<void> {
  const h = await openDeployHarness({ gate: (store) => fakeGate(store, options.decide), ...(options.onStart ? { onStart: options.onStart } : {}) });
  try {
    await h.createApp('rel');
    await fn(h);
  } finally {
    await h.close();
  }
}

describe('concurrent deploys', () => {
  test('a second deploy while one runs is refused with DEPLOY_CONFLICT naming the holder; after it ends, the next goes', async () => {
    let open: (() => void) | undefined;
    const gateOpen = new Promise<void>((resolve) => (open = resolve));
    let hold = false;
    await withHarness({ decide: async () => ((hold ? await gateOpen : undefined), { outcome: 'passing' } as HealthOutcome) }, async (h) => {
      await h.deploy('rel', TOML());
      hold = true;
      const running = await h.startDeploy('rel', TOML(), { image: 'ok-image-2' });
      assert.equal(running.status, 201);
      const refused = await h.startDeploy('rel', TOML(), { image: 'ok-image-2' });
      assert.equal(refused.status, 409);
      assert.equal(refused.body.code, 'DEPLOY_CONFLICT');
      assert.match(refused.body.error!, /held by operator \(deploy v2\)|release v2 by operator/);
      open!();
      const events = await h.follow('rel', 2);
      assert.equal(events.at(-1)!.status, 'succeeded', messages(events));
      hold = false;
      assert.equal((await h.startDeploy('rel', TOML())).status, 201, 'leases were released at the end');
      await h.follow('rel', 3);
      assert.deepEqual((await h.call('GET', '/apps/rel/releases')).body['releases'] && ((await h.call('GET', '/apps/rel/releases')).body['releases'] as { version: number }[]).map((r) => r.version), [3, 2, 1]);
    });
  });

  test('a Machine leased by someone else refuses the deploy, naming the holder, and nothing is recorded', async () => {
    await withHarness({}, async (h) => {
      await h.deploy('rel', TOML());
      const [machine] = await h.machines('rel');
      const lease = await h.call('POST', `/apps/rel/machines/${machine!.id}/lease`, { ttl: 60 });
      assert.equal(lease.status, 200);
      const refused = await h.startDeploy('rel', TOML(), { image: 'ok-image-2' });
      assert.equal(refused.status, 409);
      assert.match(refused.body.error!, new RegExp(`Cannot deploy app rel as machine ${machine!.id} must not be leased by anyone else: got a lease held by operator until`));
      assert.equal(((await h.call('GET', '/apps/rel/releases')).body['releases'] as unknown[]).length, 1);
    });
  });

  test('leases are held on every Machine while the deploy runs (others are refused), and released when it fails', async () => {
    let h: DeployHarness | undefined;
    const seen: { lease?: unknown; stop?: unknown } = {};
    const decide = async (m: { id: string; config: { metadata?: Record<string, string> | undefined } }): Promise<HealthOutcome> => {
      if (m.config.metadata?.['aloft_release'] !== '2') return { outcome: 'passing' };
      seen.lease = (await h!.call('GET', `/apps/rel/machines/${m.id}/lease`)).body;
      seen.stop = (await h!.call('POST', `/apps/rel/machines/${m.id}/stop`)).body;
      return { outcome: 'timeout', checks: [] };
    };
    await withHarness({ decide }, async (harness) => {
      h = harness;
      await h.deploy('rel', TOML());
      const [machine] = await h.machines('rel');
      const { final } = await h.deploy('rel', TOML(), { image: 'ok-image-2' });
      assert.equal(final['status'], 'failed');
      assert.equal((seen.lease as { data?: { owner?: string } }).data?.owner, 'operator (deploy v2)');
      assert.equal((seen.stop as { code?: string }).code, 'MACHINE_LEASED', 'a change without the nonce is refused mid-deploy');
      assert.equal((await h.call('GET', `/apps/rel/machines/${machine!.id}/lease`)).status, 404, 'released at the end');
    });
  });
});

describe('release_command', () => {
  const WITH_COMMAND = TOML('  release_command = "bin/migrate --now"\n  release_command_timeout = "10s"');

  test('runs in a throwaway Machine of the new image before the rollout; exit 0 lets the rollout go', async () => {
    const ran: { cmd: unknown; env: unknown; restart: unknown; services: unknown; digest: string }[] = [];
    const onStart: OnStart = (m) => {
      if (m.config.metadata?.['aloft_role'] !== 'release_command') return undefined;
      ran.push({ cmd: m.config.init?.cmd, env: m.config.env, restart: m.config.restart, services: m.config.services, digest: m.imageRef.digest });
      return { exitCode: 0 };
    };
    await withHarness({ onStart }, async (h) => {
      await h.deploy('rel', TOML());
      const { final, events } = await h.deploy('rel', WITH_COMMAND, { image: 'ok-image-2' });
      assert.equal(final['status'], 'succeeded', messages(events));
      assert.deepEqual(ran, [{ cmd: ['bin/migrate', '--now'], env: { RELEASE_COMMAND: '1' }, restart: { policy: 'no' }, services: undefined, digest: V2 }]);
      const exited = events.findIndex((e) => e.type === 'release_command' && e['step'] === 'exit');
      const firstUpdate = events.findIndex((e) => e['step'] === 'update');
      assert.ok(exited !== -1 && exited < firstUpdate, messages(events));
      const all = await h.store.listMachines({ appName: 'rel', includeDestroyed: true });
      assert.ok(all.filter((m) => m.config.metadata?.['aloft_role'] === 'release_command').every((m) => m.state === 'destroyed'), 'the throwaway Machine is gone');
    });
  });

  test('a non-zero exit fails the deploy before any rollout, with the command’s logs shown', async () => {
    await withHarness({ onStart: (m) => (m.config.metadata?.['aloft_role'] === 'release_command' ? { exitCode: 2 } : undefined) }, async (h) => {
      await h.deploy('rel', TOML());
      const before = await h.machines('rel');
      const { final, events } = await h.deploy('rel', WITH_COMMAND, { image: 'ok-image-2' });
      assert.equal(final['status'], 'failed');
      assert.match(String(final['reason']), /Cannot deploy app rel as release command "bin\/migrate --now" must exit 0: got exit code 2; its last log lines:\n {2}line 1 of/);
      assert.equal(events.at(-1)!['code'], 'RELEASE_COMMAND_FAILED');
      assert.ok(events.some((e) => e.type === 'logs'), messages(events));
      assert.equal(events.filter((e) => e['step'] === 'update').length, 0);
      const after = await h.machines('rel');
      assert.deepEqual(after.map((m) => [m.id, m.instanceId, m.imageRef.digest]), before.map((m) => [m.id, m.instanceId, V1]));
    });
  });
});

describe('rollback', () => {
  test('auto_rollback: a rolling deploy that fails its checks redeploys the last succeeded release', async () => {
    await withHarness({ decide: (m) => (m.config.metadata?.['aloft_release'] === '2' ? { outcome: 'timeout', checks: [{ name: 'http', status: 'critical' }] } : { outcome: 'passing' }) }, async (h) => {
      await h.deploy('rel', TOML());
      const { final, events } = await h.deploy('rel', TOML('  auto_rollback = true'), { image: 'ok-image-2' });
      assert.equal(final['status'], 'rolled_back', messages(events));
      assert.match(String(final['reason']), /rolled back to v1 by release v3/);
      assert.ok(events.some((e) => e.type === 'rollback' && /redeploying release v1/.test(e.message)));
      assert.ok(events.some((e) => e.release === 3 && e.type === 'done' && e.status === 'succeeded'), 'the rollback’s events are in the failed release’s stream');
      assert.equal(events.at(-1)!.release, 2);
      const v3 = (await h.call('GET', '/apps/rel/releases/3')).body;
      assert.deepEqual([v3['status'], v3['rollback_of'], v3['image_digest'], v3['created_by']], ['succeeded', 1, V1, 'auto_rollback of v2']);
      assert.ok((await h.machines('rel')).every((m) => m.imageRef.digest === V1 && m.config.metadata?.['aloft_release'] === '3'));
    });
  });

  test('without auto_rollback a failed rolling deploy stays failed, the failed Machine on the new version', async () => {
    await withHarness({ decide: (m) => (m.config.metadata?.['aloft_release'] === '2' ? { outcome: 'timeout', checks: [] } : { outcome: 'passing' }) }, async (h) => {
      await h.deploy('rel', TOML());
      const { final } = await h.deploy('rel', TOML(), { image: 'ok-image-2' });
      assert.equal(final['status'], 'failed');
      assert.match(String(final['reason']), /must start and pass its checks within 20s: got it did not start in time/);
      assert.equal(((await h.call('GET', '/apps/rel/releases')).body['releases'] as unknown[]).length, 2);
    });
  });

  test('releases rollback N redeploys release N as a new release; "previous" is the last good one before the current', async () => {
    await withHarness({}, async (h) => {
      await h.deploy('rel', TOML());
      await h.deploy('rel', TOML(), { image: 'ok-image-2' });
      assert.ok((await h.machines('rel')).every((m) => m.imageRef.digest === V2));
      const rollback = await h.call('POST', '/apps/rel/releases/previous/rollback');
      assert.equal(rollback.status, 201, JSON.stringify(rollback.body));
      assert.deepEqual([rollback.body['version'], rollback.body['rollback_of'], rollback.body['image_digest']], [3, 1, V1]);
      const events = await h.follow('rel', 3);
      assert.equal(events.at(-1)!.status, 'succeeded', messages(events));
      assert.ok((await h.machines('rel')).every((m) => m.imageRef.digest === V1));
      const again = await h.call('POST', '/apps/rel/releases/2/rollback');
      assert.equal(again.body['rollback_of'], 2);
      await h.follow('rel', 4);
      assert.ok((await h.machines('rel')).every((m) => m.imageRef.digest === V2));
    });
  });

  test('unknown releases are RELEASE_NOT_FOUND; a first release has nothing to roll back to', async () => {
    await withHarness({}, async (h) => {
      const missing = await h.call('GET', '/apps/rel/releases/9');
      assert.deepEqual([missing.status, missing.body.code], [404, 'RELEASE_NOT_FOUND']);
      assert.equal((await h.call('POST', '/apps/rel/releases/9/rollback')).status, 404);
      await h.deploy('rel', TOML());
      const none = await h.call('POST', '/apps/rel/releases/previous/rollback');
      assert.deepEqual([none.status, none.body.code], [404, 'RELEASE_NOT_FOUND']);
      assert.match(none.body.error!, /Cannot roll back app rel as it must have a succeeded release before the current one: got none/);
    });
  });

  test('a release shows its config and its events; the list omits configs', async () => {
    await withHarness({}, async (h) => {
      await h.deploy('rel', TOML());
      const shown = (await h.call('GET', '/apps/rel/releases/1')).body;
      assert.deepEqual((shown['config'] as { http_service: unknown }).http_service, { internal_port: 8080 });
      assert.equal(shown['created_by'], 'operator');
      const listed = ((await h.call('GET', '/apps/rel/releases')).body['releases'] as Record<string, unknown>[])[0]!;
      assert.equal(listed['config'], undefined);
      const events = (await h.call('GET', '/apps/rel/releases/1/events')).body as unknown as StreamedEvent[];
      assert.equal(events.at(-1)!.type, 'done');
      const later = (await h.call('GET', `/apps/rel/releases/1/events?after=${events.length - 1}`)).body as unknown as StreamedEvent[];
      assert.deepEqual(later.map((e) => e.type), ['done']);
    });
  });

  test('bad deploy bodies and configs are 400s naming the field; a missing app is 404', async () => {
    await withHarness({}, async (h) => {
      const noImage = await h.call('POST', '/apps/rel/deploys', { config: [{ name: 'fly.toml', text: TOML() }] });
      assert.deepEqual([noImage.status, noImage.body.code], [400, 'INVALID_ARGUMENT']);
      assert.match(noImage.body.error!, /'image'/);
      const badStrategy = await h.startDeploy('rel', TOML(), { strategy: 'yolo' });
      assert.match(badStrategy.body.error!, /Cannot deploy as 'strategy' must be/);
      const badConfig = await h.startDeploy('rel', 'app = "rel"\n[deploy]\n  max_unavailable = -1\n');
      assert.deepEqual([badConfig.status, badConfig.body.code], [400, 'CONFIG_INVALID']);
      assert.match(badConfig.body.error!, /fly.toml.*'deploy.max_unavailable' \(line 3\)/);
      const badImage = await h.startDeploy('rel', TOML(), { image: 'no-such-image' });
      assert.deepEqual([badImage.status, badImage.body.code], [400, 'IMAGE_NOT_FOUND']);
      assert.equal(((await h.call('GET', '/apps/rel/releases')).body['releases'] as unknown[]).length, 0, 'nothing recorded');
      const noApp = await h.startDeploy('nope', TOML());
      assert.equal(noApp.status, 404);
    });
  });
});

describe('releases cut off', () => {
  test('a release left running by an API that stopped is marked failed (interrupted) by the next deploy', async () => {
    await withHarness({}, async (h) => {
      const stale = await h.store.createRelease({ id: 'rel_stale', appName: 'rel', status: 'running', strategy: 'rolling', image: { ref: 'ok-image', digest: V1 }, config: {}, createdBy: 'ci', createdAt: Date.now() });
      const { final } = await h.deploy('rel', TOML());
      assert.equal(final['version'], 2);
      assert.equal(final['status'], 'succeeded');
      const cut = await h.store.getRelease('rel', stale.version);
      assert.equal(cut?.status, 'failed');
      assert.match(cut?.reason ?? '', /interrupted: the API process running this deploy stopped/);
    });
  });
});
