/**
 * Fuzz: a few thousand malformed requests from a seeded PRNG. Whatever comes in, the API
 * answers below 500, every error is JSON with `error`, and a refused request leaves the
 * store as it was. Replay a failure with FUZZ_SEED=<the seed printed>.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { fields, openHarness, TOKEN, type Harness } from './harness.ts';
import { Prng } from './prng.ts';

const SEED = Number(process.env['FUZZ_SEED'] ?? Date.now() % 2 ** 31);
const COUNT = Number(process.env['FUZZ_COUNT'] ?? 3000);

interface FuzzRequest {
  method: string;
  path: string;
  body?: string | Uint8Array;
  token?: string | null;
  headers?: Record<string, string>;
}

const WEIRD = 'aZ09-_.~ \t\n\r\u0000\u0001\u001f\u007f\u00e9\u200b\u202e\ud83d\ude80\u4e2d%/\\"\'<>{}[]?#&=;:,';
const TRAVERSAL = ['..%2F..%2Fetc%2Fpasswd', '%2e%2e%2f', '..', '.', '%00', '%ZZ', '%E0%A4%A', 'a%2Fb', '..%5C..%5C', '%C0%AE%C0%AE%2F', 'x'.repeat(5000), '🚀', '%F0%9F%9A%80', '  ', '%20', 'ABCDEF0123456'];
const WRONG_VALUES: unknown[] = [null, true, false, 0, -1, 1e308, -1e308, 2 ** 53 + 1, 1.5, '', 'x', [], [1, 'a'], {}, { a: { b: [] } }, '\u0000', 'ℵ'.repeat(300)];
const HUGE_NUMBERS = ['1e309', '-1e309', '99999999999999999999999999', '0x10', 'NaN', 'Infinity', '-0', '1e-400', '٣'];

/** One malformed request, of a kind chosen at random. */
function generate(r: Prng, machineId: string): FuzzRequest {
  const app = r.pick(['fz', 'nope', r.string(WEIRD, 1 + r.int(12))]);
  const mid = r.pick([machineId, r.pick(TRAVERSAL), r.string(WEIRD, 1 + r.int(20))]);
  const kind = r.int(10);
  switch (kind) {
    case 0: {
      // bad JSON
      const bad = ['{', '{"config": ', '{"app_name": "a",}', "{'a':1}", 'NaN', '{"a":1}{"b":2}', '\u0000', '[', '"', '{"config":{"image":"ok-image"', r.string(WEIRD, r.int(200))];
      return { method: 'POST', path: r.pick(['/apps', '/apps/fz/machines', `/apps/fz/machines/${machineId}/stop`]), body: r.pick(bad) };
    }
    case 1: {
      // wrong types in an otherwise plausible body
      const value = r.pick(WRONG_VALUES);
      const bodies = [
        { app_name: value },
        { app_name: 'ok-name', org_slug: value === 'x' ? 'X!' : value },
        { config: value },
        { config: { image: value } },
        { config: { image: 'ok-image', guest: { cpus: value === 1.5 ? 'x' : value === 0 ? -1 : 1.5 } } },
        { config: { image: 'ok-image', services: [{ internal_port: typeof value === 'number' ? 70000 : value }] } },
        { config: { image: 'ok-image', restart: { policy: 'sometimes' } } },
        { config: { image: 'ok-image', guest: { cpu_kind: 'quantum' } } },
        { config: { image: 'ok-image' }, skip_launch: 'yes' },
        { config: { image: 'ok-image' }, name: 'Bad Name' },
        { config: { image: 'ok-image' }, region: r.string(WEIRD, 40) },
      ];
      const index = r.int(bodies.length);
      return { method: 'POST', path: index < 2 ? '/apps' : '/apps/fz/machines', body: JSON.stringify(bodies[index]) };
    }
    case 2: {
      // unicode and control characters in names
      const name = r.string(WEIRD, 1 + r.int(80));
      return r.int(2) === 0
        ? { method: 'POST', path: '/apps', body: JSON.stringify({ app_name: `${name}!` }) }
        : { method: 'POST', path: '/apps/fz/machines', body: JSON.stringify({ name: `${name}!`, config: { image: 'ok-image' } }) };
    }
    case 3: {
      // path traversal and junk in ids
      const tail = r.pick(['', '/start', '/stop', '/wait?state=bogus', '/events', '/lease', '/metadata/..%2F']);
      return { method: r.pick(['GET', 'POST', 'DELETE']), path: `/apps/${encodeOrNot(r, app)}/machines/${r.pick(TRAVERSAL)}${tail}`, body: '{}' };
    }
    case 4: {
      // no auth, wrong tokens
      const token = r.pick([null, '', 'wrong', `${TOKEN}x`, TOKEN.slice(1), 'x'.repeat(10_000), '\u00e9\u00e9']);
      const header = r.pick([undefined, 'Basic dGVzdA==', 'Bearer', 'bearer  ', `Token ${TOKEN}`]);
      return {
        method: r.pick(['GET', 'POST', 'DELETE']),
        path: r.pick(['/apps', '/apps/fz', `/apps/fz/machines/${machineId}`, '/apps/fz/machines']),
        body: '{"app_name":"stolen"}',
        token: header ? null : token,
        ...(header ? { headers: { authorization: header } } : {}),
      };
    }
    case 5: {
      // unknown routes and methods
      const method = r.pick(['PUT', 'PATCH', 'OPTIONS', 'PROPFIND', 'GET', 'POST', 'DELETE']);
      const path = r.pick(['/nope', '/apps/fz/nope', `/apps/fz/machines/${mid}/nope/deeper`, '/', '', '//apps', '/apps//machines', `/${r.string(WEIRD, 10)}`]);
      return { method, path: path.replace(/[\s#?%]/g, '_'), body: '{}' };
    }
    case 6: {
      // huge numbers and bad values in query strings
      const q = r.pick(['timeout', 'instance_id', 'include_deleted', 'force', 'region']);
      const v = r.pick([...HUGE_NUMBERS, 'bogus', '', '%00', 'destroyed%00']);
      const [method, path] = r.pick([
        ['GET', `/apps/fz/machines/${machineId}/wait?${q}=${v}&state=${r.pick(['bogus', 'created', ''])}&timeout=${r.pick(HUGE_NUMBERS)}`],
        ['DELETE', `/apps/fz/machines/${machineId}?force=${v}`],
        ['GET', `/apps/fz/machines?include_deleted=${v}`],
      ] as const);
      return { method, path };
    }
    case 7: {
      // deep nesting, over and under the limit
      const depth = r.pick([65, 100, 1000, 20_000]);
      const open = r.int(2) === 0 ? '['.repeat(depth) : '{"a":'.repeat(depth);
      const close = open.startsWith('[') ? ']'.repeat(depth) : '}'.repeat(depth);
      return { method: 'POST', path: '/apps/fz/machines', body: `{"config":{"image":"ok-image","x":${open}1${close}}}` };
    }
    case 8: {
      // huge bodies (rarely: each one is a couple of MiB)
      if (r.int(20) !== 0) return { method: 'POST', path: '/apps/fz/machines', body: JSON.stringify({ config: { image: 'ok-image', env: { X: 'x'.repeat(r.int(4096)) } }, skip_launch: 7 }) };
      return { method: 'POST', path: r.pick(['/apps', '/apps/fz/machines']), body: `{"config":{"image":"ok-image","env":{"X":"${'x'.repeat(2 * 1024 * 1024)}"}}}` };
    }
    default: {
      // binary and odd content types
      const bytes = new Uint8Array(1 + r.int(256));
      for (let i = 0; i < bytes.length; i++) bytes[i] = r.int(256);
      return { method: 'POST', path: r.pick(['/apps', '/apps/fz/machines', `/apps/fz/machines/${machineId}/stop`]), body: bytes, headers: { 'content-type': r.pick(['application/octet-stream', 'text/plain', 'application/json; charset=latin1']) } };
    }
  }
}

function encodeOrNot(r: Prng, s: string): string {
  return r.int(2) === 0 ? encodeURIComponent(s) : s.replace(/[\s#?%/\\]/g, '_');
}

describe('fuzz: malformed requests', () => {
  let h: Harness;
  let machineId: string;
  const snapshot = async (): Promise<string> =>
    JSON.stringify({ apps: await h.store.listApps(), machines: await h.store.listMachines({ includeDestroyed: true }), revision: await h.store.revision() });

  before(async () => {
    h = await openHarness({ rateLimits: false });
    await h.call('POST', '/apps', { app_name: 'fz' });
    machineId = fields(await h.call('POST', '/apps/fz/machines', { config: { image: 'ok-image' }, skip_launch: true }))['id'] as string;
  });
  after(() => h.close());

  test(`${COUNT} requests: no 5xx, JSON errors, store unchanged (seed ${SEED})`, async (t) => {
    t.diagnostic(`FUZZ_SEED=${SEED}`);
    const r = new Prng(SEED);
    const before = await snapshot();
    const statuses = new Map<number, number>();
    for (let i = 0; i < COUNT; i++) {
      const req = generate(r, machineId);
      const where = `request #${i} (FUZZ_SEED=${SEED}): ${req.method} ${req.path.slice(0, 200)}`;
      const revision = await h.store.revision();
      let answer;
      try {
        answer = await h.call(req.method, req.path, req.method === 'GET' ? undefined : req.body, req.token === undefined ? undefined : req.token, req.headers);
      } catch (err) {
        assert.fail(`${where}: the request threw instead of answering: ${String(err)}`);
      }
      statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
      assert.ok(answer.status < 500, `${where}: ${answer.status} ${answer.text.slice(0, 300)}`);
      if (answer.status >= 400) {
        assert.equal(typeof fields(answer)['error'], 'string', `${where}: error body is not JSON with "error": ${answer.text.slice(0, 300)}`);
        assert.equal(await h.store.revision(), revision, `${where}: a refused request changed the store`);
      } else {
        assert.ok(req.method === 'GET', `${where}: a malformed ${req.method} was accepted with ${answer.status}: ${answer.text.slice(0, 300)}`);
      }
    }
    assert.equal(await snapshot(), before, 'the store is as it was');
    t.diagnostic(`statuses: ${JSON.stringify(Object.fromEntries([...statuses].sort((a, b) => a[0] - b[0])))}`);
  });
});
