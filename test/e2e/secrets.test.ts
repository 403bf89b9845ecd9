import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { buildHelloImage } from '../../examples/hello/build.ts';
import type { ApiClient } from '../../src/cli/api-client.ts';
import { startTestPlatform, type PlatformProcess, type TestPlatform } from './platform-process.ts';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'aloft.js');
const APP = 'secrets-e2e';

/** Unguessable values, so finding one anywhere can only be a leak. */
const DB_URL = `postgres://app:${randomBytes(10).toString('hex')}@db/app`;
const SHARED = `secret-${randomBytes(10).toString('hex')}`;
const PEM = `-----BEGIN KEY-----\n${randomBytes(30).toString('base64')}\n-----END KEY-----`;
const PIPED = `piped-${randomBytes(10).toString('hex')}`;

/**
 * Secrets end to end, as a user drives them: `aloft up`, a Machine under runsc, then
 * `aloft secrets set|list|import --stage|deploy|unset`; after each rolling restart the
 * Machine's own environment (/proc/1/environ) shows the change. Finally the database
 * files and the platform's output hold no plaintext, and the platform refuses to start
 * with a key file others can read.
 */
describe('secrets: set, import, deploy and unset reach a real Machine’s environment', { timeout: 240_000 }, () => {
  let harness: TestPlatform | undefined;
  let platform: PlatformProcess;
  let client: ApiClient;
  let dataDir: string;
  let machineId: string;

  /** `aloft …` with `input` on stdin; resolves with how it ended. */
  const aloft = (args: string[], input = ''): Promise<{ code: number | null; stdout: string; stderr: string }> =>
    new Promise((resolve) => {
      const child = spawn(process.execPath, [BIN, ...args], {
        env: { ...process.env, NO_COLOR: '1', ALOFT_API_URL: `http://127.0.0.1:${platform.options.apiPort}`, ALOFT_API_TOKEN: platform.token },
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('close', (code) => resolve({ code, stdout, stderr }));
      child.stdin.end(input);
    });
  const ok = async (args: string[], input?: string): Promise<string> => {
    const run = await aloft(args, input);
    assert.equal(run.code, 0, `aloft ${args.join(' ')}: ${run.stderr}\n${platform.output}`);
    return run.stdout;
  };

  /** The running process's environment, read from inside the Machine. */
  const machineEnv = async (): Promise<Record<string, string>> => {
    const result = await client.post<{ stdout: string; exit_code: number }>(`/apps/${APP}/machines/${machineId}/exec`, { command: ['/bin/busybox', 'cat', '/proc/1/environ'] });
    assert.equal(result.exit_code, 0);
    return Object.fromEntries(result.stdout.split('\0').filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
  };
  const machine = (): Promise<{ state: string; instance_id: string }> => client.get(`/apps/${APP}/machines/${machineId}`);

  before(async () => {
    harness = await startTestPlatform('sec');
    ({ platform, client, dataDir } = harness);
    const imagePath = await buildHelloImage(join(dataDir, 'hello-image'));
    await client.post('/apps', { app_name: APP, org_slug: 'personal' });
    const created = await client.post<{ id: string }>(`/apps/${APP}/machines`, {
      config: { image: imagePath, init: { exec: ['/bin/sh', '-c', 'exec sleep 3600'] }, env: { FROM_CONFIG: 'config', SHARED: 'config' }, stop_config: { signal: 'SIGKILL', timeout: '1s' } },
    });
    machineId = created.id;
    harness.machineIds.add(machineId);
    await client.get(`/apps/${APP}/machines/${machineId}/wait?state=started&timeout=60`);
  });

  after(async () => {
    await harness?.close();
  });

  test('aloft up made a 32-byte key file that only its owner can read', () => {
    const key = join(dataDir, 'secrets.key');
    assert.equal(statSync(key).size, 32);
    assert.equal(statSync(key).mode & 0o777, 0o600);
  });

  test('secrets set restarts the Machine, and its process sees the secrets (over config env)', async () => {
    const before = await machine();
    const out = await ok(['secrets', 'set', `DATABASE_URL=${DB_URL}`, `SHARED=${SHARED}`, 'TOKEN=-', '-a', APP], `${PIPED}\n`);
    assert.match(out, /Set 3 secrets \(DATABASE_URL, SHARED, TOKEN\) of secrets-e2e\.\nRestarted 1 machine one at a time: /);
    const after = await machine();
    assert.equal(after.state, 'started');
    assert.notEqual(after.instance_id, before.instance_id, 'a new version');
    const env = await machineEnv();
    assert.equal(env['DATABASE_URL'], DB_URL);
    assert.equal(env['SHARED'], SHARED, 'a secret wins over [env]');
    assert.equal(env['TOKEN'], PIPED, 'NAME=- read stdin, without its trailing newline');
    assert.equal(env['FROM_CONFIG'], 'config');
    assert.equal(env['FLY_MACHINE_VERSION'], after.instance_id);
  });

  test('secrets list shows names, digests and status, never values', async () => {
    const listed = JSON.parse(await ok(['secrets', 'list', '-a', APP, '--json'])) as { name: string; digest: string; status: string }[];
    assert.deepEqual(listed.map((s) => [s.name, s.status]), [['DATABASE_URL', 'deployed'], ['SHARED', 'deployed'], ['TOKEN', 'deployed']]);
    for (const s of listed) assert.match(s.digest, /^[0-9a-f]{16}$/);
    const table = await ok(['secrets', 'list', '-a', APP]);
    assert.match(table, /^NAME +DIGEST +STATUS +UPDATED\nDATABASE_URL +[0-9a-f]{16} +deployed/);
    for (const value of [DB_URL, SHARED, PIPED]) assert.equal(table.includes(value), false);
  });

  test('import --stage changes nothing running; deploy then restarts it with the multi-line value', async () => {
    const before = await machine();
    const out = await ok(['secrets', 'import', '--stage', '-a', APP], `# from a file\nCERT="""${PEM}"""\nPLAIN="quoted"\n`);
    assert.match(out, /^Staged: set 2 secrets \(CERT, PLAIN\)/);
    assert.equal((await machine()).instance_id, before.instance_id, 'staged: no restart');
    assert.equal((await machineEnv())['CERT'], undefined);
    assert.match(await ok(['secrets', 'deploy', '-a', APP]), /Restarted 1 machine of secrets-e2e one at a time/);
    const env = await machineEnv();
    assert.equal(env['CERT'], PEM);
    assert.equal(env['PLAIN'], 'quoted');
  });

  test('unset restarts the Machine without the secret; a bad name is one clear line', async () => {
    await ok(['secrets', 'unset', 'TOKEN', 'PLAIN', '-a', APP]);
    const env = await machineEnv();
    assert.equal(env['TOKEN'], undefined);
    assert.equal(env['PLAIN'], undefined);
    assert.equal(env['DATABASE_URL'], DB_URL);
    const bad = await aloft(['secrets', 'set', 'FLY_REGION=x', '-a', APP]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^Error: Cannot set secret as 'name' must not start with FLY_/);
  });

  test('no plaintext in the database files or the platform output', () => {
    const files = ['aloft.db', 'aloft.db-wal'].map((f) => join(dataDir, f)).filter((f) => existsSync(f));
    assert.ok(files.length > 0);
    const texts = [...files.map((f) => readFileSync(f)), Buffer.from(platform.output)];
    for (const value of [DB_URL, SHARED, PIPED, PEM, ...PEM.split('\n')]) {
      for (const text of texts) assert.equal(text.includes(Buffer.from(value)), false, 'a plaintext was found at rest or in the output');
    }
  });

  test('aloft up refuses to start when the key file is readable by others, saying how to fix it', async () => {
    await platform.stop('SIGTERM');
    const key = join(dataDir, 'secrets.key');
    chmodSync(key, 0o644);
    await assert.rejects(platform.start(), /secrets key file .*secrets\.key as it must be readable by its owner only \(chmod 600 .*\): got mode 0644/);
    chmodSync(key, 0o600);
  });
});
