// A cluster agent fetching a Machine's image from the platform's registry, which is
// behind the API's tokens: with the operator token it holds, and only to that registry.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ImageStore } from '../image/index.ts';
import { SKIP_WITHOUT_SKOPEO, skopeoWorkspace, type SkopeoWorkspace } from '../image/registry/skopeo-fixture.ts';
import { isAloftError } from '../lib/errors.ts';
import { startPlatformRegistry } from '../platform/registry.ts';
import { openSqliteStore, type Store } from '../store/index.ts';
import { sampleApp, sampleMachine } from '../store/testing.ts';
import { ClusterAgentImages, platformRegistryAccess } from './agent-images.ts';

const OPERATOR = 'operator-secret-for-agent-images';

test('platformRegistryAccess refuses what is not an http(s) URL of host and port', () => {
  for (const bad of ['10.0.0.5:5000', 'ftp://10.0.0.5:5000', 'http://10.0.0.5:5000/v2', 'http://u:p@10.0.0.5:5000']) {
    assert.throws(() => platformRegistryAccess(bad, OPERATOR), (err) => isAloftError(err, 'INVALID_ARGUMENT') && /Cannot start the agent as 'registry' must be /.test(err.message), bad);
  }
  const access = platformRegistryAccess('http://10.0.0.5:5000', OPERATOR);
  assert.equal(access.host, '10.0.0.5:5000');
  assert.deepEqual(access.imageStoreOptions.insecureRegistries, ['10.0.0.5:5000']);
  assert.deepEqual(access.imageStoreOptions.credentials?.('10.0.0.5:5000'), { username: 'aloft', password: OPERATOR });
  assert.equal(access.imageStoreOptions.credentials?.('10.0.0.5:5001'), undefined, 'another port is another registry');
  assert.equal(access.imageStoreOptions.credentials?.('docker.io'), undefined);
  assert.equal(platformRegistryAccess('https://registry.example.com', OPERATOR).imageStoreOptions.insecureRegistries, undefined);
});

describe('an agent fetching from the platform registry', { skip: SKIP_WITHOUT_SKOPEO }, () => {
  let dir: string;
  let ws: SkopeoWorkspace;
  let store: Store;
  let registry: Awaited<ReturnType<typeof startPlatformRegistry>>;
  let registryHost: string;
  let digest: string;
  /** A registry that is not the platform's: it records what it is sent and wants credentials. */
  const elsewhere = { headers: [] as IncomingHttpHeaders[], server: createServer() };
  let elsewhereHost: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'aloft-agent-images-'));
    ws = await skopeoWorkspace();
    store = await openSqliteStore({ path: ':memory:' });
    registry = await startPlatformRegistry({ dataDir: dir, host: '127.0.0.1', port: 0, operatorToken: OPERATOR, store });
    registryHost = `127.0.0.1:${registry.port}`;
    // Pushed as an operator would (`aloft images build` or skopeo with the API token).
    await ws.skopeo('copy', '--dest-tls-verify=false', '--dest-creds', `aloft:${OPERATOR}`, `oci:${join(ws.work, 'src')}:latest`, `docker://${registryHost}/personal/hello:latest`);
    digest = (JSON.parse(await ws.skopeo('inspect', '--tls-verify=false', '--creds', `aloft:${OPERATOR}`, `docker://${registryHost}/personal/hello:latest`)) as { Digest: string }).Digest;
    elsewhere.server.on('request', (req, res) => {
      elsewhere.headers.push(req.headers);
      res.writeHead(401, { 'www-authenticate': 'Basic realm="elsewhere"', 'content-type': 'application/json' }).end('{"errors":[{"code":"UNAUTHORIZED"}]}');
    });
    elsewhere.server.listen(0, '127.0.0.1');
    await once(elsewhere.server, 'listening');
    elsewhereHost = `127.0.0.1:${(elsewhere.server.address() as { port: number }).port}`;
    await store.createApp(sampleApp({ name: 'web' }));
    // What the API writes: the image resolved to its digest in the platform's registry.
    await store.createMachine(sampleMachine({ appName: 'web', hostId: 'h1', config: { image: `${registryHost}/personal/hello:latest` }, imageRef: { registry: registryHost, repository: 'personal/hello', tag: 'latest', digest } }));
  });
  after(async () => {
    elsewhere.server.close();
    await registry.close();
    await store.close();
    await ws.cleanUp();
    await rm(dir, { recursive: true, force: true });
  });

  /** A fresh host's images (nothing held yet), with `registryUrl`/`token` as `aloft agent --registry` would give. */
  function agentImages(name: string, access?: { url: string; token: string }): ClusterAgentImages {
    const platform = access === undefined ? undefined : platformRegistryAccess(access.url, access.token);
    return new ClusterAgentImages(new ImageStore(join(dir, name), platform?.imageStoreOptions ?? {}), store, 'h1', platform?.host);
  }

  test('with the operator token it fetches the image by digest', async () => {
    const images = agentImages('with-token', { url: registry.url, token: OPERATOR });
    const config = await images.imageConfig(digest);
    assert.deepEqual(config.cmd, ['/bin/sh']);
  });

  test('without it the fetch fails saying the registry wants the token and where it goes', async () => {
    await assert.rejects(agentImages('no-registry').imageConfig(digest), (err) => {
      assert.ok(isAloftError(err, 'IMAGE_PULL_UNAUTHORIZED'), String(err));
      assert.match(err.message, new RegExp(`Cannot fetch image '${registryHost}/personal/hello@${digest}' for machine \\S+ as registry ${registryHost} must accept this agent's pull: got HTTP 401 without credentials \\(the operator token goes only to the platform's registry, given to the agent as --registry URL\\)`));
      return true;
    });
  });

  test('with a token the registry does not know it fails naming the token file', async () => {
    await assert.rejects(agentImages('wrong-token', { url: registry.url, token: 'not-the-api-token' }).imageConfig(digest), (err) => {
      assert.ok(isAloftError(err, 'IMAGE_PULL_UNAUTHORIZED'), String(err));
      assert.match(err.message, new RegExp(`as registry ${registryHost} must accept the operator token this agent sends it \\(--token-file\\): got HTTP 401`));
      return true;
    });
  });

  test('another registry a Machine names is never sent the operator token', async () => {
    const other = `sha256:${'b'.repeat(64)}`;
    await store.createMachine(sampleMachine({ appName: 'web', hostId: 'h1', config: { image: `${elsewhereHost}/acme/app:1` }, imageRef: { registry: elsewhereHost, repository: 'acme/app', tag: '1', digest: other } }));
    await assert.rejects(agentImages('elsewhere', { url: registry.url, token: OPERATOR }).imageConfig(other), (err) => {
      assert.ok(isAloftError(err, 'IMAGE_PULL_UNAUTHORIZED'), String(err));
      assert.match(err.message, new RegExp(`as registry ${elsewhereHost} must accept this agent's pull: got HTTP 401 without credentials \\(the operator token goes only to the platform's registry ${registryHost}\\)`));
      return true;
    });
    assert.ok(elsewhere.headers.length > 0, 'the agent did ask the other registry');
    for (const headers of elsewhere.headers) assert.equal(headers.authorization, undefined, JSON.stringify(headers));
  });
});
