// The acceptance: a real client (Debian's skopeo) pushes to and pulls from the
// registry, and the round trip is byte-identical. skopeo runs in an isolated workspace
// (skopeo-fixture.ts), so the host's own configuration is neither used nor touched.
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { SKIP_WITHOUT_SKOPEO, skopeoWorkspace, type SkopeoWorkspace } from './skopeo-fixture.ts';
import { startTestRegistry, type TestRegistry } from './test-fixture.ts';

describe('skopeo against the registry', { skip: SKIP_WITHOUT_SKOPEO }, () => {
  let reg: TestRegistry;
  let ws: SkopeoWorkspace;
  let work: string;
  const skopeo = (...args: string[]): Promise<string> => ws.skopeo(...args);

  before(async () => {
    reg = await startTestRegistry();
    ws = await skopeoWorkspace();
    work = ws.work;
  });
  after(async () => {
    await reg.close();
    await ws.cleanUp();
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
