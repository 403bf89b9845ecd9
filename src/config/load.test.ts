/**
 * Loading from disk: any file name (--config), and an environment file beside the
 * base (fly.toml + staging → fly.staging.toml) merged over it.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { isAloftError } from '../lib/errors.ts';
import { environmentFile, findConfigFile, loadAppConfig, machineConfigsFor } from './index.ts';

describe('loadAppConfig', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'aloft-config-'));
    writeFileSync(
      join(dir, 'fly.toml'),
      `app = "shop"
primary_region = "ams"

[env]
  LOG_LEVEL = "info"
  DATABASE_URL = "postgres://prod"

[http_service]
  internal_port = 8080
  min_machines_running = 2

[[vm]]
  size = "performance-2x"
`,
    );
    writeFileSync(
      join(dir, 'fly.staging.toml'),
      `app = "shop-staging"

[env]
  DATABASE_URL = "postgres://staging"

[http_service]
  min_machines_running = 0
  auto_stop_machines = "stop"

[[vm]]
  size = "shared-cpu-1x"
`,
    );
    writeFileSync(join(dir, 'fly.broken.toml'), `[http_service]\n  min_machines_running = -1\n`);
    writeFileSync(join(dir, 'fly.typo.toml'), `[http_service]\n  min_machine_running = 1\n`);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('the base file alone', () => {
    const { config, files } = loadAppConfig(join(dir, 'fly.toml'));
    assert.deepEqual(files, [join(dir, 'fly.toml')]);
    assert.equal(config.app, 'shop');
    assert.equal(config.http_service?.min_machines_running, 2);
  });

  test('an environment file merges over the base: tables key by key, lists replaced', () => {
    const { config, files, warnings } = loadAppConfig(join(dir, 'fly.toml'), { environment: 'staging' });
    assert.deepEqual(files, [join(dir, 'fly.toml'), join(dir, 'fly.staging.toml')]);
    assert.deepEqual(warnings, []);
    assert.equal(config.app, 'shop-staging');
    assert.equal(config.primary_region, 'ams', 'kept from the base');
    assert.deepEqual(config.env, { LOG_LEVEL: 'info', DATABASE_URL: 'postgres://staging' });
    assert.deepEqual(config.http_service, { internal_port: 8080, min_machines_running: 0, auto_stop_machines: 'stop' });
    assert.deepEqual(machineConfigsFor(config, { image: 'shop:1' })[0]!.config.guest, { cpu_kind: 'shared', cpus: 1, memory_mb: 256 });
  });

  test("an error in the environment file names that file and its line", () => {
    assert.throws(
      () => loadAppConfig(join(dir, 'fly.toml'), { environment: 'broken' }),
      (err: unknown) => isAloftError(err, 'CONFIG_INVALID') && err.message === `Cannot read ${join(dir, 'fly.broken.toml')} as 'http_service.min_machines_running' (line 2) must be a whole number of 0 or more: got -1`,
    );
    const { warnings } = loadAppConfig(join(dir, 'fly.toml'), { environment: 'typo' });
    assert.deepEqual(warnings.map((w) => [w.file, w.line, w.path]), [[join(dir, 'fly.typo.toml'), 2, 'http_service.min_machine_running']]);
  });

  test('a missing file, a missing environment, a bad environment name', () => {
    assert.throws(() => loadAppConfig(join(dir, 'nope.toml')), /'.*nope\.toml' must be an existing file/);
    assert.throws(() => loadAppConfig(join(dir, 'fly.toml'), { environment: 'production' }), /fly\.production\.toml' must be an existing file/);
    assert.throws(() => loadAppConfig(join(dir, 'fly.toml'), { environment: '../etc' }), /'environment' must be a name/);
  });

  test('any file name works with --config; aloft.toml is found before fly.toml', () => {
    assert.equal(loadAppConfig(join(dir, 'fly.staging.toml')).config.app, 'shop-staging');
    assert.equal(environmentFile('/x/aloft.toml', 'prod'), '/x/aloft.prod.toml');
    assert.equal(findConfigFile(dir), join(dir, 'fly.toml'));
    writeFileSync(join(dir, 'aloft.toml'), 'app = "a"');
    assert.equal(findConfigFile(dir), join(dir, 'aloft.toml'));
    assert.throws(() => findConfigFile(join(dir, 'empty-nowhere')), /must hold aloft.toml or fly.toml/);
  });
});
