/**
 * Fly compatibility: a scripted session against an in-process API, where EVERY answer is
 * checked against Fly's own OpenAPI document (shared/reference/fly-machines-openapi.yaml,
 * read at test time) and against aloft's generated document (/v1/openapi.json). Fly's
 * schemas allow extra fields, so aloft's additions (`code`, `host_status`…) are fine; the
 * fields Fly names must have Fly's types.
 *
 * Steps for operations that not every build serves yet (events, metadata, leases…) run
 * only when the app has the route, so the script grows with the API.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { AloftSchema } from './aloft-schema.ts';
import { FlySchema } from './fly-schema.ts';
import { fields, openHarness, type Answer, type Harness } from './harness.ts';

describe("Fly compatibility: every answer fits Fly's Machines API document", () => {
  let h: Harness;
  let fly: FlySchema;
  let aloft: AloftSchema;
  const problems: string[] = [];
  let checked = 0;

  /** Calls the API and checks the answer against both documents; returns the answer. */
  const call = async (method: string, path: string, body?: unknown, token?: string | null): Promise<Answer> => {
    const answer = await h.call(method, path, body, token);
    assert.ok(answer.status < 500, `${method} ${path}: ${answer.status} ${answer.text}`);
    if (answer.text !== '') {
      assert.notEqual(answer.body, Symbol.for('not-json'), `${method} ${path}: answer is not JSON: ${answer.text}`);
      problems.push(...fly.check(method, path, answer.status, answer.body).map((p) => `fly: ${p}`));
      problems.push(...aloft.check(method, path, answer.status, answer.body).map((p) => `aloft: ${p}`));
      checked++;
    }
    return answer;
  };

  before(async () => {
    fly = new FlySchema();
    h = await openHarness({ rateLimits: false });
    aloft = new AloftSchema(fields(await h.call('GET', '/openapi.json', undefined, null)) as never);
  });
  after(() => h?.close());

  test('the session: apps, machines, actions, waits, errors', async () => {
    // apps
    assert.equal((await call('POST', '/apps', { app_name: 'compat', org_slug: 'personal' })).status, 201);
    assert.equal((await call('GET', '/apps?org_slug=personal')).status, 200);
    assert.equal((await call('GET', '/apps/compat')).status, 200);

    // machines: created without launch, and launched
    const parked = fields(await call('POST', '/apps/compat/machines', { name: 'parked', config: { image: 'ok-image', env: { A: '1' } }, skip_launch: true }));
    assert.equal(parked['state'], 'created');
    const launched = fields(
      await call('POST', '/apps/compat/machines', {
        region: 'local',
        config: { image: 'ok-image', guest: { cpus: 1, memory_mb: 256, cpu_kind: 'shared' }, services: [{ internal_port: 8080, ports: [{ port: 80, handlers: ['http'] }] }], metadata: { role: 'web' } },
      }),
    );
    const id = launched['id'] as string;
    const parkedId = parked['id'] as string;
    assert.equal((await call('GET', '/apps/compat/machines')).status, 200);
    assert.equal((await call('GET', '/apps/compat/machines?region=local&include_deleted=true')).status, 200);
    assert.equal((await call('GET', `/apps/compat/machines/${id}`)).status, 200);

    // the agent brings it up; wait sees it
    await h.settle(id, 'starting', 'started');
    assert.equal((await call('GET', `/apps/compat/machines/${id}/wait?state=started&timeout=1`)).status, 200);

    // stop, wait stopped (with the instance id, as Fly requires), start again
    const instance = fields(await call('GET', `/apps/compat/machines/${id}`))['instance_id'] as string;
    assert.equal((await call('POST', `/apps/compat/machines/${id}/stop`, { signal: 'SIGTERM', timeout: '5s' })).status, 200);
    await h.settle(id, 'stopping', 'stopped');
    assert.equal((await call('GET', `/apps/compat/machines/${id}/wait?state=stopped&instance_id=${instance}&timeout=1`)).status, 200);
    assert.equal((await call('POST', `/apps/compat/machines/${parkedId}/start`)).status, 200);
    await h.settle(parkedId, 'starting', 'started');

    // operations some builds serve
    const mid = `/apps/compat/machines/${id}`;
    const operations: [string, string, string, unknown?][] = [
      ['GET', '/apps/{app_name}/machines/{machine_id}/events', `${mid}/events`],
      ['GET', '/apps/{app_name}/machines/{machine_id}/versions', `${mid}/versions`],
      ['POST', '/apps/{app_name}/machines/{machine_id}/metadata/{key}', `${mid}/metadata/team`, { value: 'blue' }],
      ['GET', '/apps/{app_name}/machines/{machine_id}/metadata', `${mid}/metadata`],
      ['DELETE', '/apps/{app_name}/machines/{machine_id}/metadata/{key}', `${mid}/metadata/team`],
      ['POST', '/apps/{app_name}/machines/{machine_id}/cordon', `${mid}/cordon`],
      ['POST', '/apps/{app_name}/machines/{machine_id}/uncordon', `${mid}/uncordon`],
      ['POST', '/apps/{app_name}/machines/{machine_id}/lease', `${mid}/lease`, { ttl: 30, description: 'compat' }],
      ['GET', '/apps/{app_name}/machines/{machine_id}/lease', `${mid}/lease`],
      ['GET', '/apps/{app_name}/volumes', '/apps/compat/volumes'],
    ];
    for (const [method, template, path, body] of operations) {
      const answer = await call(method, path, body);
      assert.ok(answer.status < 300, `${method} ${template}: ${answer.status} ${answer.text}`);
    }
    // Releasing needs the lease's nonce.
    const lease = fields(await call('GET', `${mid}/lease`));
    const nonce = (lease['data'] as Record<string, unknown> | undefined)?.['nonce'];
    assert.equal(typeof nonce, 'string', 'the lease shows its nonce');
    const released = await h.call('DELETE', `${mid}/lease`, undefined, undefined, { 'fly-machine-lease-nonce': nonce as string });
    assert.equal(released.status, 200, released.text);

    // errors are ErrorResponse
    assert.equal((await call('GET', '/apps/nope')).status, 404);
    assert.equal((await call('GET', '/apps/compat/machines/0000000000000')).status, 404);
    assert.equal((await call('POST', '/apps/compat/machines', { config: { image: 'ok-image', services: [{ internal_port: 'x' }] } })).status, 400);
    assert.equal((await call('GET', '/apps/compat', undefined, 'wrong')).status, 401);
    assert.equal((await call('DELETE', '/apps/compat')).status, 409);

    // tear down: destroy both, wait for destroyed, delete the app
    assert.equal((await call('DELETE', `/apps/compat/machines/${parkedId}?force=true`)).status, 200);
    await h.settle(parkedId, 'destroying', 'destroyed');
    assert.equal((await call('DELETE', `/apps/compat/machines/${id}`)).status, 200);
    await h.settle(id, 'destroying', 'destroyed');
    assert.equal((await call('GET', `/apps/compat/machines/${id}/wait?state=destroyed&timeout=1`)).status, 200);
    assert.equal((await call('GET', '/apps/compat/machines?include_deleted=true')).status, 200);
    assert.equal((await call('DELETE', '/apps/compat')).status, 202);

    assert.deepEqual(problems, [], `${problems.length} answers do not fit (of ${checked} checked)`);
    for (const op of [
      'Apps_create', 'Apps_list', 'Apps_show', 'Apps_delete', 'Machines_create', 'Machines_list', 'Machines_show', 'Machines_start',
      'Machines_stop', 'Machines_wait', 'Machines_delete', 'Machines_list_events', 'Machines_list_versions', 'Machines_show_metadata',
      'Machines_create_lease', 'Machines_show_lease', 'Volumes_list',
    ]) {
      assert.ok(fly.covered.has(op), `the session covers ${op}`);
    }
  });
});
