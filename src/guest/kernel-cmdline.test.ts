import assert from 'node:assert/strict';
import { test } from 'node:test';
import { guestKernelAppend, hostTscKhz } from './kernel-cmdline.ts';

test('the TSC frequency comes from the host cpuinfo, with a fallback when it gives none', () => {
  assert.equal(hostTscKhz('processor\t: 0\ncpu MHz\t\t: 2599.998\n'), 2_599_998);
  assert.equal(hostTscKhz('processor\t: 0\n'), 2_000_000);
  assert.ok(hostTscKhz() > 0);
});

test('the command line names the serial console, skips TSC calibration and starts /init', () => {
  const append = guestKernelAppend(2_599_998);
  assert.match(append, /(^| )console=ttyS0( |$)/);
  assert.match(append, / tsc_early_khz=2599998( |$)/);
  assert.match(append, / rdinit=\/init$/);
});
