import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import { isAloftError } from '../lib/errors.ts';
import { writeOciLayout } from './build-image.ts';
import { ImageStore, type ImageStoreOptions } from './image-store.ts';
import { hostPlatform } from './platform.ts';
import { resolveRemote } from './pull.ts';
import { parseRegistryRef } from './registry-ref.ts';
import { RegistryTokens } from './registry-tokens.ts';
import { pushLayout, startTestRegistry, type TestRegistry } from './registry/test-fixture.ts';

// A registry behind Docker distribution's token auth: every request without a valid
// Bearer token for the repository is answered 401 with a Bearer challenge naming an
// in-process token server, which checks Basic credentials and issues expiring tokens.

interface Issued {
  repos: string[];
  expiresAt: number;
}

let base: string;
let layout: string;
let digest: string;
let reg: TestRegistry;
let gate: Server;
let tokenServer: Server;
let host: string;
let realm: string;
/** The servers' clock, in ms; tests move it to expire tokens. */
let now = 1_000_000;
const issued = new Map<string, Issued>();
const tokenRequests: { auth: string | undefined; scope: string | null; service: string | null }[] = [];
const users: Record<string, string> = { alice: 'wonderland' };
let tokenField: 'token' | 'access_token' = 'token';

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

function json(res: ServerResponse, status: number, value: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(value));
}

/** GET /token?service=&scope=: anonymous gets pull on public/*, alice gets pull on all. */
function serveToken(req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://token');
  const scope = url.searchParams.get('scope');
  tokenRequests.push({ auth: req.headers.authorization, scope, service: url.searchParams.get('service') });
  let user: string | undefined;
  const auth = req.headers.authorization;
  if (auth !== undefined) {
    const [name, password] = Buffer.from(auth.replace(/^Basic /, ''), 'base64').toString().split(':');
    if (name === undefined || users[name] !== password) {
      json(res, 401, { details: 'incorrect username or password' });
      return;
    }
    user = name;
  }
  const repo = /^repository:([^:]+):pull$/.exec(scope ?? '')?.[1];
  // As Docker Hub does: a token is issued either way, granting only what the user may do.
  const repos = repo !== undefined && (user !== undefined || repo.startsWith('public/')) ? [repo] : [];
  const token = randomBytes(12).toString('hex');
  issued.set(token, { repos, expiresAt: now + 300_000 });
  json(res, 200, { [tokenField]: token, expires_in: 300 });
}

/** The registry's gate: a valid, unexpired Bearer token for the repository, or a 401 challenge. */
function serveGated(req: IncomingMessage, res: ServerResponse): void {
  const repo = /^\/v2\/(.+)\/(?:manifests|blobs)\//.exec(req.url ?? '')?.[1];
  const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
  const grant = token === undefined ? undefined : issued.get(token);
  if (repo !== undefined && grant !== undefined && grant.expiresAt > now && grant.repos.includes(repo)) {
    reg.registry.handler(req, res);
    return;
  }
  const scope = repo === undefined ? '' : `,scope="repository:${repo}:pull"`;
  res.setHeader('www-authenticate', `Bearer realm="${realm}",service="test-registry"${scope}`);
  json(res, 401, { errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] });
  req.resume();
}

before(async () => {
  base = await mkdtemp(join(tmpdir(), 'aloft-bearer-'));
  layout = join(base, 'layout');
  digest = (await writeOciLayout(layout, { files: [{ path: '/hello', content: 'behind a token' }], config: { cmd: ['/hello'] } })).digest;
  reg = await startTestRegistry();
  for (const repo of ['public/img', 'private/img']) await pushLayout(reg.base, repo, 'latest', layout, digest);
  tokenServer = createServer(serveToken);
  realm = `http://127.0.0.1:${await listen(tokenServer)}/token`;
  gate = createServer(serveGated);
  host = `127.0.0.1:${await listen(gate)}`;
});
after(async () => {
  await close(gate);
  await close(tokenServer);
  await reg.close();
  await rm(base, { recursive: true, force: true });
});
beforeEach(() => {
  tokenRequests.length = 0;
  tokenField = 'token';
});

function store(options: ImageStoreOptions = {}): ImageStore {
  return new ImageStore(join(base, `store-${randomBytes(4).toString('hex')}`), options);
}

const alice = { username: 'alice', password: 'wonderland' };

describe('pulling through a Bearer challenge', () => {
  test('an anonymous token for a public repository', async () => {
    const image = await store().resolve(`${host}/public/img`);
    assert.equal(image.digest, digest);
    assert.ok(tokenRequests.length >= 1);
    assert.deepEqual(tokenRequests[0], { auth: undefined, scope: 'repository:public/img:pull', service: 'test-registry' });
  });

  test('Basic credentials go to the token server, and the token to the registry', async () => {
    tokenField = 'access_token';
    const image = await store({ credentials: (h) => (h === host ? alice : undefined) }).resolve(`${host}/private/img`);
    assert.equal(image.digest, digest);
    assert.equal(tokenRequests[0]?.auth, `Basic ${Buffer.from('alice:wonderland').toString('base64')}`);
  });

  test('an anonymous token the registry refuses is IMAGE_PULL_UNAUTHORIZED naming the realm', async () => {
    await assert.rejects(
      store().resolve(`${host}/private/img`),
      (err) => isAloftError(err, 'IMAGE_PULL_UNAUTHORIZED') && err.message.includes(realm) && /HTTP 401/.test(err.message),
    );
  });

  test('refused credentials are IMAGE_PULL_UNAUTHORIZED naming the realm, the user and the status', async () => {
    const images = store({ credentials: () => ({ username: 'alice', password: 'wrong' }) });
    await assert.rejects(images.resolve(`${host}/private/img`), (err) => {
      assert.ok(isAloftError(err, 'IMAGE_PULL_UNAUTHORIZED'), String(err));
      assert.match(err.message, new RegExp(`token server ${realm} must give a token as "alice": got HTTP 401: .*incorrect username or password`));
      return true;
    });
  });

  test('concurrent pulls of one store fetch one token, and later pulls reuse it', async () => {
    const images = store();
    const [a, b, c] = await Promise.all([1, 2, 3].map(() => images.resolve(`${host}/public/img`)));
    assert.deepEqual([a?.digest, b?.digest, c?.digest], [digest, digest, digest]);
    assert.equal(tokenRequests.length, 1);
    await images.resolve(`${host}/public/img`);
    assert.equal(tokenRequests.length, 1);
  });

  test('an expired token is fetched again, whether the client or the registry notices', async () => {
    let clientNow = now;
    const tokens = new RegistryTokens({ now: () => clientNow });
    const ref = parseRegistryRef(`${host}/public/img`);
    assert.ok(ref !== undefined);
    const pull = () => resolveRemote(ref, { platform: hostPlatform(), tokens });
    assert.equal((await pull()).manifest.digest, digest);
    assert.equal(tokenRequests.length, 1);
    await pull();
    assert.equal(tokenRequests.length, 1, 'cached while unexpired');
    // Both clocks pass expires_in: the client knows the token is stale.
    now += 301_000;
    clientNow += 301_000;
    await pull();
    assert.equal(tokenRequests.length, 2);
    // Only the registry's clock moves: the client learns from a 401 and fetches again.
    now += 301_000;
    assert.equal((await pull()).manifest.digest, digest);
    assert.equal(tokenRequests.length, 3);
  });
});

test('credentials are never sent to a plain-http realm off this host', async () => {
  // A registry whose challenge points at an http realm elsewhere: a way to harvest passwords.
  const hostile = createServer((req, res) => {
    res.setHeader('www-authenticate', 'Bearer realm="http://tokens.example.invalid/token",service="x"');
    json(res, 401, {});
    req.resume();
  });
  const port = await listen(hostile);
  try {
    const images = store({ credentials: () => alice });
    await assert.rejects(images.resolve(`127.0.0.1:${port}/private/img`), (err) => isAloftError(err, 'IMAGE_PULL_UNAUTHORIZED') && /realm must be https to be sent credentials: got http:\/\/tokens\.example\.invalid\/token/.test(err.message));
    assert.equal(tokenRequests.length, 0);
  } finally {
    await close(hostile);
  }
});
