import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { MachineConfig, MachineService } from '../../model/index.ts';
import { autoscaleOf } from './settings.ts';

const config = (service: Partial<MachineService>): MachineConfig => ({
  image: 'x',
  services: [{ protocol: 'tcp', internal_port: 8080, ports: [{ port: 80, handlers: ['http'] }], ...service }],
});

test('unset keys are off, as in the Machines API', () => {
  assert.deepEqual(autoscaleOf(config({})), { autostart: false, autostop: 'off', minMachinesRunning: 0, busyPath: undefined });
  assert.deepEqual(autoscaleOf({ image: 'x' }), { autostart: false, autostop: 'off', minMachinesRunning: 0, busyPath: undefined });
});

test('autostop true is "stop", false is "off"; the modes pass through', () => {
  assert.equal(autoscaleOf(config({ autostop: true })).autostop, 'stop');
  assert.equal(autoscaleOf(config({ autostop: false })).autostop, 'off');
  assert.equal(autoscaleOf(config({ autostop: 'suspend' })).autostop, 'suspend');
  assert.equal(autoscaleOf(config({ autostop: 'off' })).autostop, 'off');
});

test('autostart, min_machines_running and the busy path come from the HTTP service', () => {
  const s = autoscaleOf(config({ autostart: true, min_machines_running: 2, autostop_busy_path: '/busy' } as Partial<MachineService>));
  assert.deepEqual(s, { autostart: true, autostop: 'off', minMachinesRunning: 2, busyPath: '/busy' });
  // A path that is not a path is not asked (it would be glued to the origin).
  assert.equal(autoscaleOf(config({ autostop_busy_path: 'busy' } as Partial<MachineService>)).busyPath, undefined);
});
