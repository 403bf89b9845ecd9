// The acceptance: a real client (Debian's skopeo) pushes to and pulls from the
// registry, and the round trip is byte-identical. Everything skopeo reads or writes
// (policy, registries.conf, auth, caches) is pointed into a temp dir so the host's own
// configuration is neither used nor touched.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { writeOciLayout } from '../index.ts';
import { startTestRegistry, type TestRegistry } from './test-fixture.ts';

const run = promisify(execFile);
const SKOPEO = ['/usr/bin/skopeo', '/usr/local/bin/skopeo'].find((p) => existsSync(p));

describe('skopeo against the registry', { skip: SKOPEO === undefined ? 'skopeo is not installed (apt-get install skopeo)' : false }, () => {
  let reg: TestRegistry;
  let work: string;
  let env: NodeJS.ProcessEnv;

  const skopeo = async (...args: string[]): Promise<string> => {
    const { stdout } = await run(SKOPEO ?? 'skopeo', ['--insecure-policy', '--registries-conf', join(work, 'registries.conf'), ...args], { env, timeout: 60_000 });
    return stdout;
  };

  before(async () => {
    reg = await startTestRegistry();
    work = await mkdtemp(join(tmpdir(), 'aloft-skopeo-'));
    await mkdir(join(work, 'home'), { recursive: true });
    await writeFile(join(work, 'registries.conf'), 'unqualified-search-registries = []\n');
    await writeFile(join(work, 'auth.json'), '{"auths":{}}\n');
    env = {
      PATH: process.env['PATH'] ?? '/usr/bin:/bin',
      HOME: join(work, 'home'),
      XDG_CONFIG_HOME: join(work, 'home', '.config'),
      XDG_RUNTIME_DIR: join(work, 'home'),
      REGISTRY_AUTH_FILE: join(work, 'auth.json'),
      CONTAINERS_REGISTRIES_CONF: join(work, 'registries.conf'),
      TMPDIR: work,
    };
    await writeOciLayout(join(work, 'src'), {
      tag: 'latest',
      files: [
        { path: '/hello.txt', content: 'hello from aloft\n' },
        { path: '/bin', type: 'dir' },
      ],
      config: { cmd: ['/bin/sh'], env: ['PATH=/bin'] },
    });
  });
  after(async () => {
    await reg.close();
    await rm(work, { recursive: true, force: true });
  });

  test('push with skopeo copy, pull back, and the round trip is byte-identical', async () => {
    const ref = `docker://127.0.0.1:${reg.port}/test/hello:latest`;
    await skopeo('copy', '--dest-tls-verify=false', `oci:${join(work, 'src')}:latest`, ref);
    await skopeo('copy', '--src-tls-verify=false', ref, `oci:${join(work, 'back')}:latest`);
    const srcManifest = await manifestOf(join(work, 'src'));
    const backManifest = await manifestOf(join(work, 'back'));
    assert.equal(backManifest.digest, srcManifest.digest, 'same manifest digest');
    const srcBlobs = await readdir(join(work, 'src', 'blobs', 'sha256'));
    for (const hex of srcBlobs) {
      const a = await readFile(join(work, 'src', 'blobs', 'sha256', hex));
      const b = await readFile(join(work, 'back', 'blobs', 'sha256', hex));
      assert.ok(a.equals(b), `blob sha256:${hex} is byte-identical`);
    }
    assert.deepEqual((await readdir(join(work, 'back', 'blobs', 'sha256'))).sort(), srcBlobs.sort());
  });

  test('skopeo inspect reads the pushed image', async () => {
    const out = JSON.parse(await skopeo('inspect', '--tls-verify=false', `docker://127.0.0.1:${reg.port}/test/hello:latest`)) as {
      Name: string;
      Digest: string;
      Layers: string[];
      RepoTags: string[];
    };
    assert.equal(out.Name, `127.0.0.1:${reg.port}/test/hello`);
    assert.equal(out.Digest, (await manifestOf(join(work, 'src'))).digest);
    assert.equal(out.Layers.length, 1);
    assert.deepEqual(out.RepoTags, ['latest']);
  });

  test('a second tag and a second repository reuse the blobs already pushed', async () => {
    await skopeo('copy', '--dest-tls-verify=false', `oci:${join(work, 'src')}:latest`, `docker://127.0.0.1:${reg.port}/test/hello:v2`);
    await skopeo('copy', '--src-tls-verify=false', '--dest-tls-verify=false', `docker://127.0.0.1:${reg.port}/test/hello:v2`, `docker://127.0.0.1:${reg.port}/other/hello:v1`);
    const tags = (await (await fetch(`${reg.base}/v2/test/hello/tags/list`)).json()) as { tags: string[] };
    assert.deepEqual(tags.tags, ['latest', 'v2']);
    const digest = (await manifestOf(join(work, 'src'))).digest;
    const other = await fetch(`${reg.base}/v2/other/hello/manifests/v1`, { method: 'HEAD' });
    assert.equal(other.headers.get('docker-content-digest'), digest);
    // One copy of each blob on disk however many tags and repositories name it.
    const stored = await readdir(join(reg.dir, 'blobs', 'sha256'));
    assert.equal(stored.length, (await readdir(join(work, 'src', 'blobs', 'sha256'))).length);
  });
});

async function manifestOf(layout: string): Promise<{ digest: string }> {
  const index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
  const first = index.manifests[0];
  assert.ok(first, `${layout} has a manifest`);
  return { digest: first.digest };
}
