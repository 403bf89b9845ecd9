/**
 * `aloft wireguard` and `aloft ips` as a user meets them: a real API over HTTP (in
 * process, SQLite) with one gateway host recorded in the store.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createApiApp, listenApi } from '../../src/api/index.ts';
import { fakeImages } from '../../src/api/testing/fake-images.ts';
import { parseWgQuickConfig } from '../../src/net/peers/wg-quick-config.ts';
import { Scheduler } from '../../src/scheduler/index.ts';
import { openSqliteStore, type Store } from '../../src/store/index.ts';
import { fails, json, runAloft, type Run } from './cli-runner.ts';

const OPERATOR = 'cli-wireguard-operator-token';

describe('aloft wireguard and aloft ips', () => {
  let store: Store;
  let dir: string;
  let api: Awaited<ReturnType<typeof listenApi>>;
  const aloft = (args: string[]): Promise<Run> => runAloft(args, { ALOFT_API_URL: `http://127.0.0.1:${api.port}`, ALOFT_API_TOKEN: OPERATOR });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'aloft-cli-wg-'));
    store = await openSqliteStore({ path: ':memory:' });
    api = await listenApi(createApiApp({ store, images: fakeImages, scheduler: new Scheduler([{ id: 'h1', region: 'ams', number: 1, ipv4Subnet: '172.21.0.0/16', drivers: ['runsc'] }]), token: OPERATOR, rateLimits: false }), { host: '127.0.0.1', port: 0 });
    await store.createOrg({ slug: 'acme', name: 'Acme', createdAt: Date.now() });
    await store.putPeerGateway({ hostId: 'h1', region: 'ams', hostNumber: 1, publicKey: 'g'.repeat(43) + '=', endpoint: '192.0.2.1:51821', updatedAt: Date.now() });
    await store.createApp({ id: 'app_web', name: 'web', orgSlug: 'acme', network: 77, status: 'deployed', createdAt: Date.now() });
  });
  after(async () => {
    await api.close();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('create prints a wg-quick config, or writes it 0600 to a file; list and remove', async () => {
    const printed = await aloft(['wireguard', 'create', 'acme', 'ams', 'laptop']);
    assert.equal(printed.code, 0, printed.stderr);
    const config = parseWgQuickConfig(printed.stdout);
    assert.equal(config.Interface['DNS'], 'fdaa::3');
    assert.equal(config.Interface['MTU'], '1420');
    assert.equal(config.Peer['Endpoint'], '192.0.2.1:51821');

    const file = join(dir, 'desk.conf');
    const written = await aloft(['wireguard', 'create', 'acme', 'ams', 'desk', file]);
    assert.equal(written.code, 0, written.stderr);
    assert.match(written.stdout, /Created peer desk \(fdaa:[0-9a-f:]+\) in org acme through ams; config written to/);
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.match(await readFile(file, 'utf8'), /^\[Interface\]\nPrivateKey = /);

    const list = json<{ name: string; address: string }[]>(await aloft(['wireguard', 'list', 'acme', '--json']));
    assert.deepEqual(list.map((p) => p.name), ['desk', 'laptop']);
    fails(await aloft(['wireguard', 'create', 'acme', 'ams', 'laptop']), /'name' must be unique in org acme: got laptop/);
    assert.equal((await aloft(['wireguard', 'remove', 'laptop', '--org', 'acme'])).code, 0);
    fails(await aloft(['wireguard', 'remove', 'laptop', '--org', 'acme']), /Cannot remove WireGuard peer laptop as it must exist in org acme/);
  });

  test('ips allocate-v6 --private, list and release', async () => {
    fails(await aloft(['ips', 'allocate-v6', '-a', 'web']), /'--private' must be given/);
    const ip = json<{ address: string }>(await aloft(['ips', 'allocate-v6', '--private', '-a', 'web', '--json']));
    assert.match(ip.address, /^fdaa:0:4d::/);
    const list = await aloft(['ips', 'list', '-a', 'web']);
    assert.match(list.stdout, new RegExp(`v6\\s+${ip.address}\\s+private`));
    assert.equal((await aloft(['ips', 'release', ip.address, '-a', 'web'])).code, 0);
    fails(await aloft(['ips', 'release', ip.address, '-a', 'web']), /Cannot release IP address as 'address' must be allocated to app web: got fdaa:/);
  });
});
