import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { fails, json, runAloft } from '../../test/cli/cli-runner.ts';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { labDown } from './lab-down.ts';
import { ip, namespacesWithPrefix } from './lab-network.ts';
import { isRunning, startTimeOf, type LabProcess } from './lab-processes.ts';
import { statePath, type LabState } from './lab-state.ts';
import type { LabStatus } from './lab-status.ts';

describe('aloft lab (the command, two regions)', () => {
  const name = `c${randomBytes(3).toString('hex').slice(0, 5)}`;
  const lab = (...args: string[]) => runAloft(['lab', ...args, '--name', name], {});

  after(async () => {
    await runAloft(['lab', 'down', '--name', name], {});
  });

  it('comes up, shows itself, runs a command from a place, injects and heals a fault, and goes down', async () => {
    const up = json<LabStatus>(await lab('up', '--regions', 'ams,iad', '--hosts-per-region', '0', '--no-platform', '--json'));
    assert.deepEqual(
      up.regions.map((r) => [r.region, r.anycastVia, r.hosts.length]),
      [
        ['ams', 'ams-edge', 0],
        ['iad', 'iad-edge', 0],
      ],
    );
    assert.deepEqual(up.links, [{ name: 'ams-iad', rtt_ms: 80 }]);

    fails(await lab('up', '--regions', 'ams'), /lab '.+' as it must not be up already/);

    const curl = await runAloft(['lab', 'exec', 'iad', '--name', name, '--', process.execPath, '-e', `fetch('http://${up.anycast.ipv4}/').then(r => r.text()).then(t => process.stdout.write(t))`], {});
    assert.equal(curl.code, 0, curl.stderr);
    assert.equal(JSON.parse(curl.stdout).region, 'iad', curl.stdout);
    const exit = await runAloft(['lab', 'exec', 'ams', '--name', name, '--', 'sh', '-c', 'exit 3'], {});
    assert.equal(exit.code, 3, 'exec passes the exit code on');

    assert.equal((await lab('fail', 'edge', 'ams')).code, 0);
    // The router acts on the Cease within ms; status is asked until it shows (a busy machine may lag).
    let failed = json<LabStatus>(await lab('status', '--json'));
    for (let i = 0; i < 10 && failed.regions[0]!.anycastVia !== 'iad (backbone)'; i++) failed = json<LabStatus>(await lab('status', '--json'));
    assert.equal(failed.regions[0]!.anycastVia, 'iad (backbone)', JSON.stringify(failed.regions));
    assert.deepEqual(failed.faults, [{ kind: 'edge', region: 'ams', mode: 'drain' }]);
    fails(await lab('fail', 'edge', 'sin'), /'target' must be one of the lab's regions \(ams, iad\): got "sin"/);
    assert.match((await lab('heal')).stdout, /healed 1 fault/);

    assert.match((await lab('down')).stdout, /removed: 7 namespaces, 9 processes/);
    assert.deepEqual(await namespacesWithPrefix(`al-${name}-`), []);
    fails(await lab('status'), /Cannot find lab '.+' as it must be up/);
  });

  it('cleans up a lab whose `up` was killed half-way (processes recorded so far, namespaces by prefix)', async () => {
    const crashed = `k${randomBytes(3).toString('hex').slice(0, 5)}`;
    const bin = join(import.meta.dirname, '..', '..', 'bin', 'aloft.js');
    const child = spawn(process.execPath, [bin, 'lab', 'up', '--regions', 'ams,iad', '--no-platform', '--name', crashed], { stdio: 'ignore' });
    const exited = once(child, 'exit');
    let state: LabState | undefined;
    // Kill it once it has started some processes but before it is ready: the state file says when.
    for (let i = 0; i < 1000 && (state === undefined || state.processes.length < 2); i++) {
      state = await readFile(statePath(crashed), 'utf8').then((t) => JSON.parse(t) as LabState, () => undefined);
      if (state?.ready) break;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    child.kill('SIGKILL');
    await exited;
    assert.ok(state !== undefined && state.processes.length >= 2, 'up had started processes');
    assert.ok((await namespacesWithPrefix(`al-${crashed}-`)).length > 0);
    const recorded = (JSON.parse(await readFile(statePath(crashed), 'utf8')) as LabState).processes;
    // Also whatever runs in its namespaces unrecorded (started just before the kill).
    const inside: LabProcess[] = [];
    for (const ns of await namespacesWithPrefix(`al-${crashed}-`)) {
      for (const pid of (await ip('netns', 'pids', ns)).split('\n').filter((l) => l !== '').map(Number)) {
        inside.push({ pid, role: 'stray', place: ns, startTime: (await startTimeOf(pid)) ?? '' });
      }
    }
    await labDown(crashed);
    assert.deepEqual(await namespacesWithPrefix(`al-${crashed}-`), []);
    for (const proc of [...recorded, ...inside]) assert.equal(await isRunning(proc), false, `${proc.role}@${proc.place} (${proc.pid}) is gone`);
  });
});
