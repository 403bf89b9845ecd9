import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CommandRunner } from '../lib/command.ts';
import { isAloftError } from '../lib/errors.ts';
import { resolveKernelPackage } from './kernel.ts';

function apt(outputs: Record<string, string>): CommandRunner {
  return async (_file, args) => ({ code: 0, stdout: outputs[args.join(' ')] ?? '', stderr: '' });
}

test('the kernel package is the metapackage dependency at its candidate version', async () => {
  const run = apt({
    'depends linux-image-cloud-amd64': 'linux-image-cloud-amd64\n  Depends: linux-image-6.1.0-56-cloud-amd64\n',
    'policy linux-image-6.1.0-56-cloud-amd64': 'linux-image-6.1.0-56-cloud-amd64:\n  Installed: (none)\n  Candidate: 6.1.192-2\n',
  });
  assert.deepEqual(await resolveKernelPackage(run), { name: 'linux-image-6.1.0-56-cloud-amd64', version: '6.1.192-2' });
});

test('no dependency or no candidate is a clear GUEST_BUILD_FAILED', async () => {
  await assert.rejects(resolveKernelPackage(apt({})), (err: unknown) => isAloftError(err, 'GUEST_BUILD_FAILED') && /'linux-image-cloud-amd64' must depend on a linux-image package/.test(err.message));
  const run = apt({ 'policy linux-image-x': 'linux-image-x:\n  Candidate: (none)\n' });
  await assert.rejects(resolveKernelPackage(run, 'linux-image-x'), /'linux-image-x' must have an apt candidate version: got/);
});
