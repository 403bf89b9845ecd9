import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildRunSpec, machineEnv } from '../agent/run-spec.ts';
import type { ImageConfig } from '../image/types.ts';
import { sampleMachine } from '../store/testing.ts';

const image: ImageConfig = { entrypoint: ['/serve'], cmd: [], env: ['FROM_IMAGE=image', 'SHARED=image', 'PATH=/bin'], workingDir: '', user: '', exposedPorts: [] };

test("a Machine's env: image, then config env, then secrets (secrets win over env, as on Fly), then FLY_* which nothing overrides", () => {
  const machine = sampleMachine({ config: { ...sampleMachine().config, env: { SHARED: 'config', FROM_CONFIG: 'config', FLY_REGION: 'config' } } });
  const env = machineEnv(machine, image, { SHARED: 'secret', ONLY_SECRET: 's3cret', FLY_REGION: 'secret', PRIMARY_REGION: 'fra' });
  assert.equal(env['FROM_IMAGE'], 'image');
  assert.equal(env['FROM_CONFIG'], 'config');
  assert.equal(env['SHARED'], 'secret');
  assert.equal(env['ONLY_SECRET'], 's3cret');
  assert.equal(env['FLY_REGION'], machine.region, 'the platform variable wins even over a secret (which the API refuses anyway)');
  assert.equal(env['PRIMARY_REGION'], 'fra');
  assert.deepEqual(machineEnv(machine, image), machineEnv(machine, image, {}), 'no secrets: as before');
});

test('buildRunSpec passes the secrets into the process env', () => {
  const machine = sampleMachine();
  const spec = buildRunSpec({ machine, image, user: { uid: 0, gid: 0, additionalGids: [] }, rootfs: '/r', machineDir: '/m', netnsPath: null, secrets: { TOKEN: 'x' } });
  assert.equal(spec.process.env['TOKEN'], 'x');
});
