import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isAloftError } from '../lib/errors.ts';
import { decodeRunConfigLines, encodeRunConfig, type RunConfig } from './run-config.ts';

const base: RunConfig = { hostname: 'web-1', args: ['/app/server', '--port', '8080'], env: { GREETING: 'hello world', EMPTY: '' }, uid: 1000, gid: 1000, workdir: '/app' };

test('a run config renders one escaped key=value per line and reads back the same', () => {
  const text = encodeRunConfig({
    ...base,
    groups: [1000, 27],
    addresses: ['172.19.0.2/24', 'fdaa:0:1:a7b::2/64'],
    routes: [{ destination: 'default', gateway: '172.19.0.1' }],
    nameservers: ['fdaa::3'],
    search: ['internal'],
    privateIp: 'fdaa:0:1:a7b::2',
    mounts: [{ source: 'serial:vol_abc', fstype: 'ext4', path: '/data dir' }],
    memoryMb: 256,
    pidsMax: 100,
  });
  assert.doesNotMatch(text.replace(/\n/g, ''), /[ \t]/);
  assert.deepEqual(decodeRunConfigLines(text), [
    ['hostname', 'web-1'],
    ['uid', '1000'],
    ['gid', '1000'],
    ['groups', '1000,27'],
    ['workdir', '/app'],
    ['arg', '/app/server'],
    ['arg', '--port'],
    ['arg', '8080'],
    ['env', 'GREETING=hello world'],
    ['env', 'EMPTY='],
    ['addr', '172.19.0.2/24'],
    ['addr', 'fdaa:0:1:a7b::2/64'],
    ['route', 'default\t172.19.0.1'],
    ['memory_mb', '256'],
    ['pids_max', '100'],
    ['nameserver', 'fdaa::3'],
    ['search', 'internal'],
    ['host', 'fdaa:0:1:a7b::2 fly-local-6pn web-1'],
    ['mount', 'serial:vol_abc\text4\t/data dir'],
  ]);
});

test('bad run configs are refused naming the field', () => {
  const cases: Array<[Partial<RunConfig>, RegExp]> = [
    [{ hostname: 'no_underscores' }, /Cannot write guest run config as 'hostname' must be a DNS label/],
    [{ args: [] }, /'args' must be a non-empty list/],
    [{ workdir: 'app' }, /'workdir' must be an absolute path: got "app"/],
    [{ uid: -1 }, /'uid' must be an integer/],
    [{ env: { 'A=B': 'x' } }, /'env' must be names without "="/],
    [{ addresses: ['10.0.0.1'] }, /'addresses' must be IP\/PREFIX: got "10.0.0.1"/],
    [{ mounts: [{ source: '/dev/vdb', fstype: 'ext4', path: '/a\tb' }] }, /'mounts\[0\].path' must be text without tab/],
    [{ mounts: [{ source: 'vdb', fstype: 'ext4', path: '/a' }] }, /'mounts\[0\].source' must be \/dev\/NAME or serial:NAME/],
    [{ mounts: [{ source: '/dev/vdb', fstype: 'ext4', path: '/a/../etc' }] }, /without "\.\."/],
    [{ memoryMb: 0 }, /'memoryMb' must be a positive integer: got 0/],
    [{ pidsMax: 1.5 }, /'pidsMax' must be a positive integer: got 1.5/],
  ];
  for (const [bad, pattern] of cases) {
    assert.throws(() => encodeRunConfig({ ...base, ...bad }), (err: unknown) => isAloftError(err, 'INVALID_ARGUMENT') && pattern.test(err.message));
  }
});
