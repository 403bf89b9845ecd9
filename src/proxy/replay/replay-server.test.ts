import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Picker } from '../picker.ts';
import { send } from '../testing/client.ts';
import { fakeApp, fakeMachine, freePort, startBackend, type Backend } from '../testing/fixtures.ts';
import { startProxyWorld, type ProxyWorld } from '../testing/world.ts';

type Behaviour = (req: IncomingMessage, res: ServerResponse, body: Buffer) => void;

/** What the machine named answers; each test sets the ones it needs. */
const behave = new Map<string, Behaviour>();
/** Requests each machine received, in order. */
const seen = new Map<string, { url: string; headers: IncomingMessage['headers']; body: Buffer }[]>();
const backends: Backend[] = [];
let world: ProxyWorld;
let spoolDir: string;
/** Candidate lists the picker was asked to choose from (machine ids). */
const picks: string[][] = [];

function machineBackend(name: string): Promise<Backend> {
  return startBackend((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      seen.set(name, [...(seen.get(name) ?? []), { url: req.url ?? '', headers: req.headers, body }]);
      res.setHeader('x-machine', name);
      const behaviour = behave.get(name);
      if (behaviour !== undefined) behaviour(req, res, body);
      else res.end(`${name} got ${body.length} bytes sha ${createHash('sha256').update(body).digest('hex').slice(0, 16)}`);
    });
  });
}

before(async () => {
  spoolDir = mkdtempSync(join(tmpdir(), 'aloft-replay-test-'));
  const [home, ams, api, foreign] = await Promise.all(['m-home', 'm-ams', 'm-api', 'm-foreign'].map(machineBackend));
  backends.push(home!, ams!, api!, foreign!);
  const dead = await freePort();
  // The first request always lands on m-home; afterwards the first candidate offered.
  const picker: Picker = (candidates) => {
    picks.push(candidates.map((c) => c.machineId));
    return candidates.find((c) => c.machineId === 'm-home') ?? candidates[0]!;
  };
  world = await startProxyWorld(
    (store) => {
      store.putApp(fakeApp('web'));
      store.putApp(fakeApp('api'));
      store.putApp({ ...fakeApp('foreign'), orgSlug: 'other-org' });
      store.putMachine({ ...fakeMachine('web', home!.port, 'started', 'm-home'), region: 'fra' });
      store.putMachine({ ...fakeMachine('web', ams!.port, 'started', 'm-ams'), region: 'ams' });
      store.putMachine({ ...fakeMachine('web', dead, 'started', 'm-dead'), region: 'syd' });
      store.putMachine({ ...fakeMachine('api', api!.port, 'started', 'm-api'), region: 'fra' });
      store.putMachine({ ...fakeMachine('foreign', foreign!.port, 'started', 'm-foreign'), region: 'fra' });
    },
    { picker, region: 'fra', replay: { memoryBytes: 1024 * 1024, capBytes: 4_000_000, spoolDir } },
  );
});

after(async () => {
  await world.close();
  await Promise.all(backends.map((b) => b.close()));
  rmSync(spoolDir, { recursive: true, force: true });
});

function reset(): void {
  behave.clear();
  seen.clear();
  picks.length = 0;
}

/** Yields to the event loop until `check` holds (the proxy finishes its cleanup after the client has its answer). */
async function eventually(check: () => boolean): Promise<void> {
  for (let i = 0; i < 10_000 && !check(); i++) await new Promise((resolve) => setImmediate(resolve));
  assert.ok(check());
}

test('region=ams replays the same POST, body and all (spooled past memory), with fly-replay-src', async () => {
  reset();
  let spooledDuringReplay = -1;
  behave.set('m-home', (_req, res) => {
    res.setHeader('fly-replay', 'region=ams;state=from-fra');
    res.end('this body must never reach the client');
  });
  behave.set('m-ams', (_req, res, body) => {
    spooledDuringReplay = readdirSync(spoolDir).length;
    res.end(`ams got ${body.length}`);
  });
  const body = Buffer.alloc(3 * 1024 * 1024 + 17, 'x');
  body.write('first', 0);
  const res = await send(world.port, { host: 'web.localhost', method: 'POST', path: '/write?a=1', body, headers: ['X-App', 'v', 'Fly-Replay-Src', 'instance=spoofed'] });
  assert.equal(res.status, 200);
  assert.equal(res.text, `ams got ${body.length}`);
  assert.equal(res.headers['x-machine'], 'm-ams');
  const atAms = seen.get('m-ams')![0]!;
  assert.ok(atAms.body.equals(body));
  assert.equal(atAms.url, '/write?a=1');
  assert.equal(atAms.headers['x-app'], 'v');
  assert.match(String(atAms.headers['fly-replay-src']), /^instance=m-home;region=fra;t=\d{16};state=from-fra$/);
  const t = Number(/t=(\d+)/.exec(String(atAms.headers['fly-replay-src']))![1]);
  assert.ok(Math.abs(t / 1000 - Date.now()) < 60_000, 't is microseconds since the epoch');
  assert.equal(seen.get('m-home')![0]!.headers['fly-replay-src'], undefined);
  assert.equal(spooledDuringReplay, 1, 'a 3 MiB body is kept in a temp file during the replay');
  await eventually(() => readdirSync(spoolDir).length === 0);
  // The picker chose within the target: only ams Machines were offered.
  assert.deepEqual(picks.at(-1), ['m-ams']);
});

test('the JSON form replays to another app of the org, with transform.path and set_headers', async () => {
  reset();
  behave.set('m-home', (_req, res) => {
    res.setHeader('content-type', 'application/vnd.fly.replay+json');
    res.end(JSON.stringify({ app: 'api', transform: { path: '/v2/items?x=1', set_headers: [{ name: 'X-Tenant', value: 't1' }] } }));
  });
  const res = await send(world.port, { host: 'web.localhost', path: '/api/items' });
  assert.equal(res.status, 200);
  assert.equal(res.headers['x-machine'], 'm-api');
  const atApi = seen.get('m-api')![0]!;
  assert.equal(atApi.url, '/v2/items?x=1');
  assert.equal(atApi.headers['x-tenant'], 't1');
  assert.match(String(atApi.headers['fly-replay-src']), /^instance=m-home;region=fra;t=\d+$/);
});

test('instance= goes to that Machine; elsewhere=true never back to the one that answered', async () => {
  reset();
  behave.set('m-home', (_req, res) => {
    res.setHeader('fly-replay', 'instance=m-ams');
    res.end();
  });
  assert.equal((await send(world.port, { host: 'web.localhost' })).headers['x-machine'], 'm-ams');
  reset();
  behave.set('m-home', (_req, res) => {
    res.setHeader('fly-replay', 'elsewhere=true');
    res.end();
  });
  // m-dead (a closed port) may be offered first: it is skipped like any failed connect.
  const res = await send(world.port, { host: 'web.localhost' });
  assert.equal(res.headers['x-machine'], 'm-ams');
  assert.ok(picks.slice(1).every((list) => !list.includes('m-home')), JSON.stringify(picks));
});

test('another org, no Machine in the region, or an unreachable target answer 502 with fly-replay-failed', async () => {
  reset();
  let header = 'app=foreign';
  behave.set('m-home', (_req, res) => {
    res.setHeader('fly-replay', header);
    res.end();
  });
  let res = await send(world.port, { host: 'web.localhost' });
  assert.equal(res.status, 502);
  assert.equal(res.headers['aloft-error'], 'PROXY_REPLAY_FAILED');
  assert.match(String(res.headers['fly-replay-failed']), /^reason=app_not_found;app=foreign;t=\d+$/);
  assert.equal(seen.get('m-foreign'), undefined);

  header = 'region=sjc';
  res = await send(world.port, { host: 'web.localhost' });
  assert.equal(res.status, 502);
  assert.match(String(res.headers['fly-replay-failed']), /^reason=no_machines;app=web;region=sjc;/);

  header = 'instance=m-dead;timeout=50ms';
  res = await send(world.port, { host: 'web.localhost' });
  assert.equal(res.status, 502);
  assert.match(String(res.headers['fly-replay-failed']), /^reason=unreachable;app=web;instance=m-dead;/);
  assert.match(JSON.parse(res.text).error, /Cannot replay request to app "web"/);
});

test('fallback=force_self sends it home again with fly-replay-failed; that answer is final', async () => {
  reset();
  behave.set('m-home', (req, res) => {
    const failed = req.headers['fly-replay-failed'];
    if (failed === undefined) {
      res.setHeader('fly-replay', 'instance=m-dead;timeout=50ms;fallback=force_self');
      res.end();
    } else {
      // Even another fly-replay is passed on now (Fly: no replay after a fallback).
      res.setHeader('fly-replay', 'region=ams');
      res.end(`home again: ${String(failed)}`);
    }
  });
  const res = await send(world.port, { host: 'web.localhost', method: 'PUT', body: 'payload' });
  assert.equal(res.status, 200);
  assert.match(res.text, /^home again: reason=unreachable;app=web;instance=m-dead;t=\d+$/);
  assert.equal(res.headers['fly-replay'], 'region=ams');
  const home = seen.get('m-home')!;
  assert.equal(home.length, 2);
  assert.equal(home[1]!.body.toString(), 'payload');
  assert.match(String(home[1]!.headers['fly-replay-src']), /^instance=m-home;/);
});

test('a replay loop is cut after 10 hops with 508', async () => {
  reset();
  behave.set('m-home', (_req, res) => {
    res.setHeader('fly-replay', 'region=fra');
    res.end();
  });
  const res = await send(world.port, { host: 'web.localhost', method: 'POST', body: 'b' });
  assert.equal(res.status, 508);
  assert.equal(res.headers['aloft-error'], 'PROXY_REPLAY_LOOP');
  assert.match(JSON.parse(res.text).error, /replayed more than 10 times/);
  assert.equal(seen.get('m-home')!.length, 11);
});

test('a body over the replay cap is still forwarded, but a replay of it answers 413', async () => {
  reset();
  behave.set('m-home', (_req, res, body) => {
    if (body.length > 4_000_000) res.setHeader('fly-replay', 'region=ams');
    res.end(`home got ${body.length}`);
  });
  const small = await send(world.port, { host: 'web.localhost', method: 'POST', body: Buffer.alloc(10) });
  assert.equal(small.status, 200);
  const big = await send(world.port, { host: 'web.localhost', method: 'POST', body: Buffer.alloc(4_500_000) });
  assert.equal(big.status, 413);
  assert.equal(big.headers['aloft-error'], 'PROXY_REPLAY_TOO_LARGE');
  assert.match(JSON.parse(big.text).error, /Cannot replay request as its body must be at most 4000000 bytes/);
  assert.equal(seen.get('m-ams'), undefined);
  await eventually(() => readdirSync(spoolDir).length === 0);
});

test('an unreadable fly-replay answers 502 PROXY_REPLAY_INVALID', async () => {
  reset();
  behave.set('m-home', (_req, res) => {
    res.setHeader('fly-replay', 'elsewhere=perhaps');
    res.end();
  });
  const res = await send(world.port, { host: 'web.localhost' });
  assert.equal(res.status, 502);
  assert.equal(res.headers['aloft-error'], 'PROXY_REPLAY_INVALID');
  assert.match(JSON.parse(res.text).error, /'fly-replay.elsewhere' must be true or false: got "perhaps"/);
});

test('with replay turned off, a fly-replay response reaches the client as it is', async () => {
  reset();
  behave.set('m-home', (_req, res) => {
    res.setHeader('fly-replay', 'region=ams');
    res.end('raw');
  });
  const plain = await startProxyWorld(
    (store) => {
      store.putApp(fakeApp('web'));
      store.putMachine({ ...fakeMachine('web', backends[0]!.port, 'started', 'm-home'), region: 'fra' });
    },
    { replay: false },
  );
  try {
    const res = await send(plain.port, { host: 'web.localhost', method: 'POST', body: 'x' });
    assert.equal(res.headers['fly-replay'], 'region=ams');
    assert.equal(res.text, 'raw');
    assert.equal(seen.get('m-ams'), undefined);
  } finally {
    await plain.close();
  }
});

test('region lists are tried in order; prefer_instance falls through when it cannot be reached', async () => {
  reset();
  let header = 'region="sjc,ams,any"';
  behave.set('m-home', (req, res) => {
    if (req.headers['fly-replay-src'] !== undefined) return void res.end('home');
    res.setHeader('fly-replay', header);
    res.end();
  });
  assert.equal((await send(world.port, { host: 'web.localhost' })).headers['x-machine'], 'm-ams');
  // m-dead only just started, so without a timeout it would be retried for ~3 s.
  header = 'prefer_instance=m-dead;region=ams;timeout=50ms';
  const started = Date.now();
  const res = await send(world.port, { host: 'web.localhost' });
  assert.equal(res.headers['x-machine'], 'm-ams');
  assert.ok(Date.now() - started < 1500, `the replay timeout bounded the retries (${Date.now() - started} ms)`);
});
