import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readlink, realpath } from 'node:fs/promises';
import { test } from 'node:test';
import { isAloftError } from '../../lib/errors.ts';
import { addHostPath, hostRuntimeEntries, NODE_PATH, parseLdd, sharedLibraries } from './host-runtime.ts';
import type { LayerEntry } from './reproducible-tar.ts';

const LDD = `\tlinux-vdso.so.1 (0x00007ffd4b1f2000)
\tlibdl.so.2 => /lib/x86_64-linux-gnu/libdl.so.2 (0x00007f0e1c5f0000)
\tlibstdc++.so.6 => /lib/x86_64-linux-gnu/libstdc++.so.6 (0x00007f0e1c200000)
\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f0e1c000000)
\t/lib64/ld-linux-x86-64.so.2 (0x00007f0e1c600000)
`;

test('parseLdd: libraries and the loader as listed, the vDSO skipped', () => {
  assert.deepEqual(parseLdd(LDD, '/usr/bin/node'), [
    '/lib/x86_64-linux-gnu/libdl.so.2',
    '/lib/x86_64-linux-gnu/libstdc++.so.6',
    '/lib/x86_64-linux-gnu/libc.so.6',
    '/lib64/ld-linux-x86-64.so.2',
  ]);
});

test('parseLdd: a library ldd cannot find fails the build, naming it', () => {
  assert.throws(() => parseLdd('\tlibnode.so.108 => not found\n', '/opt/node'), (err: unknown) => isAloftError(err, 'BUILD_FAILED') && /'\/opt\/node' must find all its shared libraries: got libnode\.so\.108 not found/.test(err.message));
});

test('a static binary needs no libraries (real ldd)', { skip: existsSync('/usr/bin/busybox') ? false : 'needs busybox-static' }, async () => {
  assert.deepEqual(await sharedLibraries('/usr/bin/busybox'), []);
});

test('the loader lands at its real path with every symlink that leads there', async () => {
  const entries = new Map<string, LayerEntry>();
  const loader = parseLdd(execFileSync('ldd', [process.execPath], { encoding: 'utf8' }), process.execPath).find((p) => p.includes('ld-linux'));
  assert.ok(loader, 'this host has a glibc loader');
  await addHostPath(loader, entries);
  const real = await realpath(loader);
  assert.equal(entries.get(real)?.type, 'file', `${real} is stored as a file`);
  // Every stored symlink is the host's own, so following them in the image ends at `real`.
  for (const entry of entries.values()) {
    if (entry.type === 'symlink') assert.equal(entry.linkTarget, await readlink(entry.path));
  }
  assert.ok([...entries.values()].every((e) => e.type !== 'file' || e.path === real), 'only the loader itself is a file');
});

test("the runtime layer has node, each library ldd names, users and /tmp", async () => {
  const entries = new Map((await hostRuntimeEntries(process.execPath)).map((e) => [e.path, e]));
  assert.equal(entries.get(NODE_PATH)?.sourcePath, await realpath(process.execPath));
  assert.equal(entries.get(NODE_PATH)?.mode, 0o755);
  for (const lib of await sharedLibraries(process.execPath)) {
    assert.ok(entries.has(await realpath(lib)), `${lib} is in the layer at its real path`);
  }
  assert.match(entries.get('/etc/passwd')?.content?.toString() ?? '', /^node:x:1000:1000:/m);
  assert.match(entries.get('/etc/group')?.content?.toString() ?? '', /^node:x:1000:$/m);
  assert.equal(entries.get('/tmp')?.mode, 0o1777);
  assert.deepEqual([entries.get('/home/node')?.uid, entries.get('/home/node')?.gid], [1000, 1000]);
  if (existsSync('/etc/ssl/certs/ca-certificates.crt')) assert.ok(entries.has(await realpath('/etc/ssl/certs/ca-certificates.crt')));
  assert.ok(![...entries.keys()].some((p) => p.startsWith('/etc/hosts')), 'the platform writes /etc/hosts, not the image');
});

test('a nodeBinary that is missing or not ELF is a clear INVALID_ARGUMENT', async () => {
  await assert.rejects(hostRuntimeEntries('/no/such/node'), (err: unknown) => isAloftError(err, 'INVALID_ARGUMENT') && /'nodeBinary' must be an existing file: got "\/no\/such\/node"/.test(err.message));
  await assert.rejects(hostRuntimeEntries('/etc/passwd'), (err: unknown) => isAloftError(err, 'INVALID_ARGUMENT') && /'nodeBinary' must be an ELF executable: got "\/etc\/passwd"/.test(err.message));
});
