/**
 * `aloft config validate` and `aloft config show` as a user runs them, in a directory
 * of config files: warnings printed with file, line and a suggestion; an invalid value
 * or bad TOML is one line on stderr and exit 1. No platform is needed.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { GroupMachineConfig } from '../../src/config/index.ts';
import { fails, json, runAloft } from './cli-runner.ts';

const FLY_TOML = `app = "shop"
primary_region = "ams"

[processes]
  web = "bin/server --port 8080"
  worker = "bin/jobs"

[http_service]
  internal_port = 8080
  force_https = true
  auto_stop_machines = "suspend"
  procesess = ["web"]

[[vm]]
  size = "shared-cpu-2x"
`;

describe('aloft config', () => {
  let dir: string;
  const aloft = (args: string[], cwd = dir) => runAloft(args, {}, cwd);

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'aloft-cli-config-'));
    writeFileSync(join(dir, 'fly.toml'), FLY_TOML);
    writeFileSync(join(dir, 'fly.staging.toml'), '[[vm]]\n  size = "shared-cpu-1x"\n');
    writeFileSync(join(dir, 'bad-port.toml'), 'app = "x"\n[http_service]\n  internal_port = 70000\n');
    writeFileSync(join(dir, 'bad-toml.toml'), 'app = "x"\n[env\n');
    mkdirSync(join(dir, 'empty'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('validate: finds fly.toml, prints each warning with its line and a suggestion, exits 0', async () => {
    const run = await aloft(['config', 'validate']);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^warning: fly\.toml:12: unknown key 'procesess' in 'http_service' is ignored; did you mean 'processes'\?$/m);
    assert.match(run.stdout, /^fly\.toml is valid \(1 warning\)$/m);
  });

  test('validate: an invalid value is one line naming file, line, key, rule and value; exit 1', async () => {
    fails(await aloft(['config', 'validate', '--config', 'bad-port.toml']), /^Error: Cannot read bad-port\.toml as 'http_service\.internal_port' \(line 3\) must be a port from 1 to 65535: got 70000$/m);
  });

  test('validate: a TOML syntax error gives line and column; no config at all says so', async () => {
    fails(await aloft(['config', 'validate', '-c', 'bad-toml.toml']), /Cannot read bad-toml\.toml as it must be valid TOML \(line 2, column \d+\)/);
    fails(await aloft(['config', 'validate'], join(dir, 'empty')), /must hold aloft\.toml or fly\.toml \(or pass --config FILE\)/);
    fails(await aloft(['config', 'validate', '--environment', 'production']), /fly\.production\.toml' must be an existing file/);
  });

  test('show --json: the normalised config and one Machine config per process group', async () => {
    const shown = json<{ files: string[]; config: { http_service: { auto_stop_machines: string } }; machines: GroupMachineConfig[] }>(
      await aloft(['config', 'show', '--json', '--image', 'shop:7']),
    );
    assert.deepEqual(shown.files, ['fly.toml']);
    assert.equal(shown.config.http_service.auto_stop_machines, 'suspend');
    assert.deepEqual(shown.machines.map((m) => [m.processGroup, m.config.init?.cmd, m.config.image, m.config.guest?.memory_mb]), [
      ['web', ['bin/server', '--port', '8080'], 'shop:7', 512],
      ['worker', ['bin/jobs'], 'shop:7', 512],
    ]);
    // The misspelt `procesess` is ignored, so http_service serves every group.
    assert.ok(shown.machines.every((m) => m.config.services?.[0]?.autostop === 'suspend'));
  });

  test('show --environment staging reads fly.staging.toml over fly.toml', async () => {
    const shown = json<{ files: string[]; machines: GroupMachineConfig[] }>(await aloft(['config', 'show', '--json', '--environment', 'staging']));
    assert.deepEqual(shown.files, ['fly.toml', 'fly.staging.toml']);
    assert.deepEqual(shown.machines[0]!.config.guest, { cpu_kind: 'shared', cpus: 1, memory_mb: 256 });
  });

  test('show: human output names each process group', async () => {
    const run = await aloft(['config', 'show']);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^fly\.toml, normalised:$/m);
    assert.match(run.stdout, /^Machine config of process group 'web':$/m);
    assert.match(run.stdout, /^Machine config of process group 'worker':$/m);
    assert.match(run.stdout, /"image": "<built by aloft deploy>"/);
  });
});

// Regression: `aloft config show | head` crashed with an unhandled EPIPE stack trace.
test('output piped into head that stops reading early: exit 0, no stack trace', () => {
  const bin = join(import.meta.dirname, '..', '..', 'bin', 'aloft.js');
  const corpus = join(import.meta.dirname, '..', '..', '..', 'shared', 'corpus', 'fly-toml', '056.toml');
  const run = spawnSync('bash', ['-c', `"${process.execPath}" "${bin}" config show -c "${corpus}" | head -n 1 >/dev/null; exit "\${PIPESTATUS[0]}"`], { encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  assert.doesNotMatch(run.stderr, /EPIPE|at /);
});
