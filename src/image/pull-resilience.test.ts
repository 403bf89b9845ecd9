import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import { isAloftError } from '../lib/errors.ts';
import { writeOciLayout } from './build-image.ts';
import { sha256Digest } from './digest.ts';
import { ImageStore } from './image-store.ts';
import { MEDIA_TYPES } from './media-types.ts';
import { hostPlatform } from './platform.ts';
import { pushLayout, startTestRegistry, type TestRegistry } from './registry/test-fixture.ts';

// A real registry behind a front server that can fail requests the way networks and
// overloaded registries do: 503s, reset connections, stalled headers, stalled bodies.

type Fault = 'pass' | '503' | 'reset' | 'stall-headers' | 'stall-body';

let base: string;
let layout: string;
let digest: string;
let layer: string;
let reg: TestRegistry;
let front: Server;
let host: string;
/** Decides each request's fate; reset after each test. */
let plan: (req: IncomingMessage) => Fault = () => 'pass';
const seen: string[] = [];

function serveFront(req: IncomingMessage, res: ServerResponse): void {
  seen.push(`${req.method} ${req.url}`);
  const fault = plan(req);
  if (fault === 'pass') return reg.registry.handler(req, res);
  if (fault === '503') {
    res.writeHead(503, { 'content-type': 'application/json' });
    res.end('{"errors":[{"code":"UNAVAILABLE"}]}');
  } else if (fault === 'reset') {
    req.socket.destroy();
  } else if (fault === 'stall-body') {
    res.writeHead(200, { 'content-length': 1000, 'content-type': 'application/octet-stream' });
    res.write(Buffer.alloc(10));
  }
  // stall-headers: never answer; the server's closeAllConnections ends it.
}

before(async () => {
  base = await mkdtemp(join(tmpdir(), 'aloft-pull-faults-'));
  layout = join(base, 'layout');
  digest = (await writeOciLayout(layout, { files: [{ path: '/f', content: 'resilient' }], config: { cmd: ['/f'] } })).digest;
  layer = (JSON.parse(await readFile(join(layout, 'blobs', 'sha256', digest.slice(7)), 'utf8')) as { layers: { digest: string }[] }).layers[0]?.digest ?? '';
  reg = await startTestRegistry();
  await pushLayout(reg.base, 'app/img', 'latest', layout, digest);
  front = createServer(serveFront);
  await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
  host = `127.0.0.1:${(front.address() as AddressInfo).port}`;
});
after(async () => {
  await new Promise<void>((resolve) => {
    front.close(() => resolve());
    front.closeAllConnections();
  });
  await reg.close();
  await rm(base, { recursive: true, force: true });
});
afterEach(() => {
  plan = () => 'pass';
  seen.length = 0;
  // Stalled requests of the last test hold their sockets until closed.
  front.closeAllConnections();
});

function store(policy: ConstructorParameters<typeof ImageStore>[1] = {}): ImageStore {
  return new ImageStore(join(base, `store-${randomBytes(4).toString('hex')}`), { pullPolicy: { retryDelayMs: 1 }, ...policy });
}

/** A plan failing the first `n` requests matching `match` with `fault`. */
function failFirst(n: number, match: (url: string) => boolean, fault: Fault): (req: IncomingMessage) => Fault {
  let left = n;
  return (req) => (match(req.url ?? '') && left-- > 0 ? fault : 'pass');
}

describe('pull retries and timeouts', () => {
  test('503s on the manifest are retried with backoff until one succeeds', async () => {
    plan = failFirst(2, (u) => u.includes('/manifests/'), '503');
    assert.equal((await store().resolve(`${host}/app/img`)).digest, digest);
    assert.equal(seen.filter((r) => r.includes('/manifests/latest')).length, 3);
  });

  test('a connection reset on a blob is retried', async () => {
    plan = failFirst(1, (u) => u.endsWith(layer), 'reset');
    const images = store();
    assert.equal((await images.resolve(`${host}/app/img`)).digest, digest);
    assert.equal(seen.filter((r) => r.endsWith(layer)).length, 2);
    assert.equal(await images.blobs.has(layer), true);
  });

  test('a registry that keeps failing is IMAGE_PULL_FAILED after the attempts run out', async () => {
    plan = () => '503';
    await assert.rejects(store({ pullPolicy: { attempts: 3, retryDelayMs: 1 } }).resolve(`${host}/app/img`), (err) => isAloftError(err, 'IMAGE_PULL_FAILED') && /HTTP 503/.test(err.message));
    assert.equal(seen.length, 3);
  });

  test('a registry that never answers is IMAGE_PULL_FAILED after the headers timeout', async () => {
    plan = () => 'stall-headers';
    await assert.rejects(
      store({ pullPolicy: { attempts: 2, retryDelayMs: 1, headersTimeoutMs: 150 } }).resolve(`${host}/app/img`),
      (err) => isAloftError(err, 'IMAGE_PULL_FAILED') && /must answer in time: got no response headers within 150 ms/.test(err.message),
    );
    assert.equal(seen.length, 2, 'the timeout is retried');
  });

  test('a blob body that stalls is IMAGE_PULL_FAILED and leaves no partial blob', async () => {
    plan = (req) => ((req.url ?? '').endsWith(layer) ? 'stall-body' : 'pass');
    const images = store({ pullPolicy: { retryDelayMs: 1, bodyIdleTimeoutMs: 150 } });
    await assert.rejects(images.resolve(`${host}/app/img`), (err) => isAloftError(err, 'IMAGE_PULL_FAILED') && err.message.includes(layer) && /no body bytes for 150 ms/.test(err.message));
    assert.equal(await images.blobs.has(layer), false);
    assert.deepEqual(await readdir(join(images.dir, 'tmp')), []);
  });
});

describe('nested indexes', () => {
  /** Pushes an index over `entries`; returns its digest. */
  async function pushIndex(tag: string, entries: { mediaType: string; digest: string; size: number; platform?: { os: string; architecture: string } }[]): Promise<{ digest: string; size: number }> {
    const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_TYPES.ociIndex, manifests: entries }));
    const res = await fetch(`${reg.base}/v2/app/img/manifests/${tag}`, { method: 'PUT', body: bytes, headers: { 'content-type': MEDIA_TYPES.ociIndex } });
    assert.equal(res.status, 201, await res.text());
    return { digest: sha256Digest(bytes), size: bytes.length };
  }

  async function manifestSize(): Promise<number> {
    return (await readFile(join(layout, 'blobs', 'sha256', digest.slice(7)))).length;
  }

  test('an index pointing at an index is descended to the platform manifest', async () => {
    const inner = await pushIndex('inner', [{ mediaType: MEDIA_TYPES.ociManifest, digest, size: await manifestSize(), platform: hostPlatform() }]);
    await pushIndex('outer', [{ mediaType: MEDIA_TYPES.ociIndex, ...inner }]);
    assert.equal((await store().resolve(`${host}/app/img:outer`)).digest, digest);
  });

  test('indexes nested deeper than 4 are IMAGE_INVALID', async () => {
    let next: { mediaType: string; digest: string; size: number; platform: { os: string; architecture: string } } = { mediaType: MEDIA_TYPES.ociManifest, digest, size: await manifestSize(), platform: hostPlatform() };
    for (let i = 0; i < 5; i++) next = { mediaType: MEDIA_TYPES.ociIndex, ...(await pushIndex(`level-${i}`, [next])), platform: hostPlatform() };
    await assert.rejects(store().resolve(`${host}/app/img:level-4`), (err) => isAloftError(err, 'IMAGE_INVALID') && /indexes must nest at most 4 deep/.test(err.message));
    // Four levels are fine.
    assert.equal((await store().resolve(`${host}/app/img:level-3`)).digest, digest);
  });
});
