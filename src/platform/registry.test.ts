// The registry as the platform wires it (startPlatformRegistry: the data dir's folder,
// the API's tokens), driven by a real client with an org token as `--creds`.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { hashTokenSecret, newTokenSecret } from '../api/auth/secret.ts';
import { isAloftError } from '../lib/errors.ts';
import { ImageStore, writeOciLayout } from '../image/index.ts';
import { pushLayout } from '../image/registry/test-fixture.ts';
import { SKIP_WITHOUT_SKOPEO, skopeoWorkspace, type SkopeoWorkspace } from '../image/registry/skopeo-fixture.ts';
import { openSqliteStore, type Store } from '../store/index.ts';
import { startPlatformRegistry } from './registry.ts';

describe('the platform registry', () => {
  let dataDir: string;
  let store: Store;
  let registry: Awaited<ReturnType<typeof startPlatformRegistry>>;
  let secret: string;

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'aloft-platform-registry-'));
    store = await openSqliteStore({ path: ':memory:' });
    await store.createOrg({ slug: 'acme', name: 'Acme', createdAt: 1 });
    secret = newTokenSecret();
    await store.createToken({ id: 'tok1', name: 'ci', orgSlug: 'acme', readOnly: false, hash: hashTokenSecret(secret), createdAt: 1 });
    registry = await startPlatformRegistry({ dataDir, host: '127.0.0.1', port: 0, operatorToken: 'operator-secret', store });
  });
  after(async () => {
    await registry.close();
    await store.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  test('a taken port is ALREADY_RUNNING, as for the API', async () => {
    await assert.rejects(startPlatformRegistry({ dataDir, host: '127.0.0.1', port: registry.port, operatorToken: 'x', store }), (err) => isAloftError(err, 'ALREADY_RUNNING'));
  });

  test('port 0 listens on a free port, and the base endpoint wants credentials', async () => {
    assert.notEqual(registry.port, 0);
    assert.equal(registry.url, `http://127.0.0.1:${registry.port}`);
    const res = await fetch(`${registry.url}/v2/`);
    assert.equal(res.status, 401);
    assert.equal(res.headers.get('www-authenticate'), 'Basic realm="aloft"');
  });

  test('an ImageStore given the operator token as credentials pulls what was pushed with it', async () => {
    const built = await writeOciLayout(join(dataDir, 'hello-layout'), { files: [{ path: '/hello', content: 'hi' }], config: { cmd: ['/hello'] } });
    const auth = `Basic ${Buffer.from('aloft:operator-secret').toString('base64')}`;
    await pushLayout(registry.url, 'personal/hello', 'latest', built.path, built.digest, { authorization: auth });
    const host = new URL(registry.url).host;
    const images = new ImageStore(join(dataDir, 'images'), { credentials: (h) => (h === host ? { username: 'aloft', password: 'operator-secret' } : undefined) });
    const image = await images.resolve(`${host}/personal/hello:latest`);
    assert.deepEqual([image.digest, image.registry, image.repository], [built.digest, host, 'personal/hello']);
    await assert.rejects(new ImageStore(join(dataDir, 'images-anon')).resolve(`${host}/personal/hello:latest`), (err) => isAloftError(err, 'IMAGE_NOT_FOUND'));
  });

  describe('with skopeo', { skip: SKIP_WITHOUT_SKOPEO }, () => {
    let ws: SkopeoWorkspace;
    before(async () => {
      ws = await skopeoWorkspace();
    });
    after(() => ws.cleanUp());

    test("skopeo --creds with an org token pushes to <org>/hello, and not to another org's", async () => {
      const host = `127.0.0.1:${registry.port}`;
      const src = `oci:${join(ws.work, 'src')}:latest`;
      await ws.skopeo('copy', '--dest-tls-verify=false', '--dest-creds', `x:${secret}`, src, `docker://${host}/acme/hello:latest`);
      const inspected = JSON.parse(await ws.skopeo('inspect', '--tls-verify=false', '--creds', `x:${secret}`, `docker://${host}/acme/hello:latest`)) as { RepoTags: string[] };
      assert.deepEqual(inspected.RepoTags, ['latest']);
      await assert.rejects(ws.skopeo('copy', '--dest-tls-verify=false', '--dest-creds', `x:${secret}`, src, `docker://${host}/otherorg/hello:latest`), stderrMatches(/denied: Cannot push otherorg\/hello/));
      await assert.rejects(ws.skopeo('copy', '--dest-tls-verify=false', src, `docker://${host}/acme/anonymous:latest`), stderrMatches(/unauthorized|authentication required/i));
    });
  });
});

/** An assert.rejects check on a failed command's stderr. */
function stderrMatches(pattern: RegExp): (err: unknown) => boolean {
  return (err) => {
    const stderr = (err as { stderr?: string }).stderr ?? '';
    assert.match(stderr, pattern);
    return true;
  };
}
