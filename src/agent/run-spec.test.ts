import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Machine } from '../model/index.ts';
import type { ImageConfig } from '../image/types.ts';
import { machineArgs, machineEnv } from './run-spec.ts';

const image: ImageConfig = { entrypoint: ['/entry'], cmd: ['serve'], env: ['PATH=/bin', 'X=1=2'], workingDir: '', user: '', exposedPorts: [] };
const machine = (init: Machine['config']['init'] = {}): Machine =>
  ({ id: 'abc', appName: 'a', region: 'r', instanceId: 'I', config: { image: 'i', init }, imageRef: { registry: 'local', repository: 'i', tag: 't', digest: 'sha256:1' }, addresses: null }) as unknown as Machine;

test('the command follows Docker override rules', () => {
  assert.deepEqual(machineArgs(machine(), image), ['/entry', 'serve']);
  assert.deepEqual(machineArgs(machine({ cmd: ['other'] }), image), ['/entry', 'other']);
  assert.deepEqual(machineArgs(machine({ entrypoint: ['/new'] }), image), ['/new'], 'a new entrypoint drops the image cmd');
  assert.deepEqual(machineArgs(machine({ exec: ['/x', 'y'] }), image), ['/x', 'y']);
});

test('no command at all is a clear error', () => {
  assert.throws(() => machineArgs(machine(), { ...image, entrypoint: [], cmd: [] }), /must give a command/);
});

test('image env values may contain "=", and Fly variables are set', () => {
  const env = machineEnv(machine(), image);
  assert.equal(env['X'], '1=2');
  assert.equal(env['FLY_IMAGE_REF'], 'i:t@sha256:1');
  assert.equal(env['PRIMARY_REGION'], 'r');
  assert.equal(env['FLY_VM_MEMORY_MB'], '256');
});
