import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { hashTokenSecret, newTokenSecret } from '../../src/api/auth/secret.ts';
import { SKIP_WITHOUT_SKOPEO, skopeoWorkspace } from '../../src/image/registry/skopeo-fixture.ts';
import { startTestEtcd } from '../../src/store/etcd/testing.ts';
import { openStoreFromUrl } from '../../src/store/open-store.ts';
import { fails, runAloft } from './cli-runner.ts';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'aloft.js');

/** Resolves with the registry's URL once `aloft registry` says it is up. */
function whenUp(child: ChildProcessWithoutNullStreams): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    const onData = (chunk: Buffer): void => {
      out += chunk.toString();
      const match = /aloft registry is up: (http:\/\/\S+) /.exec(out);
      if (match?.[1] !== undefined) resolve(match[1]);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => reject(new Error(`aloft registry exited ${String(code)}: ${out}`)));
  });
}

test('aloft registry refuses a missing token file and a store URL it cannot open, in one line', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'aloft-cli-registry-'));
  try {
    fails(await runAloft(['registry', '--data-dir', dir, '--port', '0', '--token-file', join(dir, 'nope')], {}), /Cannot start the registry as 'token-file' must name a file holding the operator token .*: got .*nope, which does not exist/);
    fails(await runAloft(['registry', '--data-dir', dir, '--port', '0', '--store', 'sqlite:relative.db'], {}), /Cannot open the store as 'store' must be sqlite: followed by an absolute path/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

// Cluster mode: the registry checks tokens against the cluster's etcd, where `aloft api`
// mints them (here: this test), and takes the API's operator token from --token-file.
test('aloft registry --store etcd://… accepts a token minted in that store and the API operator token', { skip: SKIP_WITHOUT_SKOPEO }, async () => {
  const etcd = await startTestEtcd();
  const url = `etcd://${etcd.endpoints[0]!.replace('http://', '')}/registry-cli`;
  const dir = await mkdtemp(join(tmpdir(), 'aloft-cli-registry-'));
  const ws = await skopeoWorkspace();
  const writer = await openStoreFromUrl(url);
  const operator = newTokenSecret();
  await writeFile(join(dir, 'api-token'), `${operator}\n`, { mode: 0o600 });
  const child = spawn(process.execPath, [BIN, 'registry', '--data-dir', join(dir, 'registry-host'), '--store', url, '--token-file', join(dir, 'api-token'), '--host', '127.0.0.1', '--port', '0'], {
    env: { ...process.env, NO_COLOR: '1' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  try {
    const registryUrl = await whenUp(child);
    const host = new URL(registryUrl).host;
    // Minted after the registry started: it must ask the store, not a copy taken at start.
    await writer.createOrg({ slug: 'acme', name: 'Acme', createdAt: 1 });
    const secret = newTokenSecret();
    await writer.createToken({ id: 'tok-ci', name: 'ci', orgSlug: 'acme', readOnly: false, hash: hashTokenSecret(secret), createdAt: 1 });
    const src = `oci:${join(ws.work, 'src')}:latest`;
    await ws.skopeo('copy', '--dest-tls-verify=false', '--dest-creds', `x:${secret}`, src, `docker://${host}/acme/hello:latest`);
    const asOperator = JSON.parse(await ws.skopeo('inspect', '--tls-verify=false', '--creds', `aloft:${operator}`, `docker://${host}/acme/hello:latest`)) as { Name: string; RepoTags: string[] };
    assert.deepEqual(asOperator.RepoTags, ['latest']);
    // A token the store does not hold is refused; so is ours once revoked in the store.
    const base = (token: string): Promise<number> => fetch(`${registryUrl}/v2/`, { headers: { authorization: `Bearer ${token}` } }).then((r) => r.status);
    assert.equal(await base(newTokenSecret()), 401);
    assert.equal(await base(secret), 200);
    await writer.revokeToken('tok-ci', Date.now());
    assert.equal(await base(secret), 401);
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
  } finally {
    if (child.exitCode === null) {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
    await writer.close();
    await ws.cleanUp();
    await etcd.stop();
    await rm(dir, { recursive: true, force: true });
  }
});
