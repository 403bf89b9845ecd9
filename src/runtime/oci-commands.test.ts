import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { needsEth0Restore, runCommandLine, type RunCommandInput } from './oci-commands.ts';

const base: RunCommandInput = {
  runtime: 'runsc',
  stateRoot: '/data/runsc',
  runscNetwork: 'sandbox',
  bundle: '/data/m1/bundle',
  machineId: 'm1',
  pidFile: '/data/rec/m1/pid',
  logFile: '/data/rec/m1/runtime.log',
  netnsPath: '/var/run/netns/aloft-m1',
};

describe('oci-commands', () => {
  it('runs runsc with a netns behind the rmem_default workaround', () => {
    const line = runCommandLine(base);
    assert.deepEqual(line.slice(0, 5), ['unshare', '-m', '--propagation', 'private', 'sh']);
    assert.match(line[6]!, /nsenter --net="\$ns" mount -t tmpfs hide \/proc\/sys\/net\/core && exec "\$@"/);
    assert.deepEqual(line.slice(7), [
      'aloft-hide-net-core',
      '/var/run/netns/aloft-m1',
      'runsc',
      '--root',
      '/data/runsc',
      '--log',
      '/data/rec/m1/runtime.log',
      '--log-format',
      'json',
      '--network=sandbox',
      'run',
      '--pid-file',
      '/data/rec/m1/pid',
      '--bundle',
      '/data/m1/bundle',
      'm1',
    ]);
    assert.equal(needsEth0Restore(base), true);
  });

  it('gives runsc without a netns no network, and host networking no workaround', () => {
    assert.deepEqual(runCommandLine({ ...base, netnsPath: null }).slice(3, 8), ['--log', '/data/rec/m1/runtime.log', '--log-format', 'json', '--network=none']);
    assert.deepEqual(runCommandLine({ ...base, runscNetwork: 'host' }).slice(0, 8), ['runsc', '--root', '/data/runsc', '--log', '/data/rec/m1/runtime.log', '--log-format', 'json', '--network=host']);
    assert.equal(needsEth0Restore({ ...base, runscNetwork: 'host' }), false);
  });

  it('keeps runc containers after exit so their state reads "stopped"', () => {
    assert.deepEqual(runCommandLine({ ...base, runtime: 'runc' }), [
      'runc',
      '--root',
      '/data/runsc',
      '--log',
      '/data/rec/m1/runtime.log',
      '--log-format',
      'json',
      'run',
      '--keep',
      '--pid-file',
      '/data/rec/m1/pid',
      '--bundle',
      '/data/m1/bundle',
      'm1',
    ]);
    assert.equal(needsEth0Restore({ ...base, runtime: 'runc' }), false);
  });
});
