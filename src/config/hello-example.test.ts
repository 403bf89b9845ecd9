/**
 * The example app's aloft.toml and the Machine config `aloft up` gives it in code
 * (examples/hello/app.ts) must say the same thing.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { helloMachineConfig } from '../../examples/hello/app.ts';
import { machineConfigsFor, parseAppConfig } from './index.ts';

const HELLO_TOML = new URL('../../examples/hello/aloft.toml', import.meta.url);

test('examples/hello/aloft.toml parses with no warnings and gives helloMachineConfig', () => {
  const { config, warnings } = parseAppConfig(readFileSync(HELLO_TOML, 'utf8'), 'aloft.toml');
  assert.deepEqual(warnings, []);
  assert.equal(config.app, 'hello');
  const [only, ...rest] = machineConfigsFor(config, { image: '/var/lib/aloft/hello.oci' });
  assert.equal(rest.length, 0, 'one process group');
  assert.equal(only!.processGroup, 'app');
  // The one addition is the process-group tag every Machine from a config carries (as Fly's do).
  assert.deepEqual(only!.config, helloMachineConfig('/var/lib/aloft/hello.oci'));
});
