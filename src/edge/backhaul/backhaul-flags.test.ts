import assert from 'node:assert/strict';
import { test } from 'node:test';
import { backhaulSettings, DEFAULT_BACKHAUL_PORT } from './backhaul-flags.ts';
import { edgeRegistration } from './edge-registration.ts';

test('no backhaul flags: no backhaul (the proxy dials IPv4 as beside aloft up)', () => {
  assert.equal(backhaulSettings({}), undefined);
});

test('--underlay with --edge-id and --host-number turns the backhaul on; the mesh port defaults to 51820', () => {
  assert.deepEqual(backhaulSettings({ underlay: '10.1.0.9', edgeId: 'edge-ams-1', hostNumber: '9001' }), { edgeId: 'edge-ams-1', hostNumber: 9001, underlay: '10.1.0.9', meshPort: DEFAULT_BACKHAUL_PORT });
  assert.deepEqual(backhaulSettings({ underlay: '[fd10::9]', edgeId: 'e', hostNumber: '4294967295', meshPort: '0', heartbeatInterval: 300 }), { edgeId: 'e', hostNumber: 4_294_967_295, underlay: 'fd10::9', meshPort: 0, heartbeatIntervalMs: 300 });
});

test('every bad or missing backhaul flag is INVALID_ARGUMENT naming it', () => {
  const on = { underlay: '10.1.0.9', edgeId: 'e1', hostNumber: '9' };
  const cases: [Parameters<typeof backhaulSettings>[0], RegExp][] = [
    [{ edgeId: 'e1' }, /^Cannot start the proxy as 'underlay' must be given with --edge-id .*: got nothing$/],
    [{ meshPort: '51820' }, /'underlay' must be given with --mesh-port/],
    [{ ...on, underlay: '10.1.0.9:51820' }, /'underlay' must be an IPv4 or IPv6 address without a port \(the port is --mesh-port\): got "10\.1\.0\.9:51820"/],
    [{ ...on, underlay: 'edge.example' }, /'underlay' must be an IPv4 or IPv6 address/],
    [{ ...on, edgeId: undefined }, /'edge-id' must be given with --underlay/],
    [{ ...on, edgeId: '-x' }, /'edge-id' must be lowercase letters, digits and dashes, at most 63 long: got "-x"/],
    [{ ...on, hostNumber: undefined }, /'host-number' must be given with --underlay/],
    [{ ...on, hostNumber: '0' }, /'host-number' must be an integer from 1 to 4294967295: got "0"/],
    [{ ...on, hostNumber: '4294967296' }, /'host-number' must be an integer from 1 to 4294967295/],
    [{ ...on, hostNumber: '1e3' }, /'host-number' must be an integer/],
    [{ ...on, meshPort: '65536' }, /'mesh-port' must be a port number from 0 to 65535: got "65536"/],
    [{ ...on, heartbeatInterval: 0 }, /'heartbeat-interval' must be a duration of at least 1 ms/],
  ];
  for (const [flags, message] of cases) assert.throws(() => backhaulSettings(flags), { code: 'INVALID_ARGUMENT', message });
});

test("an edge's registry entry: role edge, no room, no subnet, its key, underlay and own /80 in network 0", () => {
  const entry = edgeRegistration({ id: 'e1', region: 'ams', number: 9, wireguardPublicKey: 'k'.repeat(43) + '=', underlay: '10.1.0.9:51820' });
  assert.deepEqual(entry, {
    id: 'e1',
    role: 'edge',
    region: 'ams',
    number: 9,
    ipv4Subnet: '',
    capacity: { cpus: 0, memoryMb: 0, diskGb: 0, gpus: [] },
    drivers: [],
    wireguardPublicKey: 'k'.repeat(43) + '=',
    addresses: { underlay: '10.1.0.9:51820', sixpnPrefix: 'fdaa::9:0:0:0/80' },
    controlUrl: null,
  });
});
