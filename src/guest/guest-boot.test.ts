// Boots the real guest: Debian's cloud kernel, our initramfs and aloft-init, an ext4 root
// from busybox, under QEMU TCG. Slow (seconds per boot), so only two boots.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { buildBusyboxRoot } from '../runtime/busybox-rootfs.ts';
import { buildGuestInit } from './init-binary.ts';
import { buildInitramfs } from './initramfs.ts';
import { ensureGuestKernel, type GuestKernel } from './kernel.ts';
import type { RunConfig } from './run-config.ts';
import { TestVm } from './test-vm.ts';

const missing = ['qemu-system-x86_64', 'gcc', 'lz4', 'mkfs.ext4'].filter((tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0);
const skip = missing.length > 0 ? `not installed: ${missing.join(', ')}` : false;

let dir: string;
let kernel: GuestKernel;
let initramfs: string;
let rootImage: string;
const vms: TestVm[] = [];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'aloft-guest-'));
  if (skip !== false) return;
  // ALOFT_GUEST_CACHE keeps the kernel between runs (as the microvm tests do); else a fresh one.
  const cache = process.env['ALOFT_GUEST_CACHE'] ?? join(dir, 'cache');
  kernel = await ensureGuestKernel(cache);
  const init = await buildGuestInit(cache);
  initramfs = await buildInitramfs(cache, kernel, init);
  await buildBusyboxRoot(join(dir, 'root'));
  // An absolute symlink in the image: the volume mounted at /data must land in /mnt/real of
  // the image, not of the initramfs where aloft-init itself runs.
  await mkdir(join(dir, 'root/mnt/real'), { recursive: true });
  await symlink('/mnt/real', join(dir, 'root/data'));
  rootImage = join(dir, 'root.ext4');
  execFileSync('mkfs.ext4', ['-q', '-F', '-d', join(dir, 'root'), rootImage, '16M']);
  console.log(`initramfs ${(await stat(initramfs)).size} bytes, aloft-init ${(await stat(init)).size} bytes`);
});

after(async () => {
  for (const vm of vms) await vm.destroy();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

function config(overrides: Partial<RunConfig>): RunConfig {
  return { hostname: 'vm-test', args: ['/bin/true'], env: {}, uid: 0, gid: 0, workdir: '/', privateIp: 'fdaa:0:1:a7b::2', ...overrides };
}

async function boot(name: string, run: RunConfig, disks: Array<[string, string]> = [], net = false): Promise<TestVm> {
  const vmDir = join(dir, name);
  await mkdir(vmDir);
  // Each VM writes to its root: give each its own copy.
  const root = join(vmDir, 'root.ext4');
  execFileSync('cp', ['--sparse=always', rootImage, root]);
  const vm = await TestVm.boot({ dir: vmDir, vmlinux: kernel.vmlinux, initramfs, rootImage: root, config: run, disks, net });
  vms.push(vm);
  return vm;
}

test('the guest runs the process as the image user, reports exit 7 over the channel and powers off', { skip, timeout: 300_000 }, async () => {
  const vm = await boot('exit7', config({ hostname: 'vm-exit7', args: ['/bin/sh', '-c', 'echo hello from $HOSTNAME; id; cat /etc/hosts /proc/self/cgroup; exit 7'], uid: 1000, gid: 1000 }));
  assert.deepEqual(await vm.message('hello'), { type: 'hello', version: 1 });
  const exit = await vm.message('exit');
  assert.deepEqual(exit, { type: 'exit', code: 7, signal: 0, oom: false });
  vm.send({ type: 'poweroff' });
  const qemu = await vm.exited();
  assert.deepEqual(qemu, { code: 0, signal: null });
  assert.match(vm.console, /hello from vm-exit7/);
  assert.match(vm.console, /uid=1000\(app\) gid=1000\(app\)/);
  assert.match(vm.console, /fdaa:0:1:a7b::2 fly-local-6pn vm-exit7/);
  // The process runs in the Machine's cgroup, and its lines reach the console without \r (ONLCR off).
  assert.match(vm.console, /^0::\/machine$/m);
  assert.match(vm.console, /^hello from vm-exit7\n/m);
  assert.ok(vm.messages.some((m) => m.type === 'started'));
  console.log(`boot under tcg: aloft-init up ${vm.firstMessageAt! - vm.startedAt} ms, first console line ${vm.firstConsoleAt! - vm.startedAt} ms, exit reported and QEMU gone ${vm.exitedAt! - vm.startedAt} ms`);
});

test('exec returns output and exit code, a timed-out exec is killed, SIGTERM ends the main process', { skip, timeout: 300_000 }, async () => {
  const volDir = join(dir, 'vol');
  await mkdir(volDir);
  await writeFile(join(volDir, 'hello.txt'), 'from the volume\n');
  const volImage = join(dir, 'vol.ext4');
  execFileSync('mkfs.ext4', ['-q', '-F', '-d', volDir, volImage, '8M']);
  const vm = await boot(
    'exec',
    config({
      args: ['/bin/sh', '-c', 'echo main is up; sleep 1001 & exec sleep 1000'],
      memoryMb: 100,
      pidsMax: 20,
      env: { FOO: 'from-config', KEEP: 'kept' },
      workdir: '/tmp',
      mounts: [{ source: 'serial:vol1', fstype: 'ext4', path: '/data' }],
      addresses: ['10.0.2.15/24', 'fd00::15/64'],
      routes: [{ destination: 'default', gateway: '10.0.2.2' }],
      mtu: 1400,
      nameservers: ['10.0.2.3'],
      search: ['internal'],
    }),
    [[volImage, 'vol1']],
    true,
  );
  await vm.message('started');
  await vm.until('the main process output', () => (vm.console.includes('main is up') ? true : undefined));
  const odd = 'a b%c\nd é=+';
  vm.send({
    type: 'exec',
    id: '1',
    args: ['/bin/sh', '-c', 'echo out; echo err >&2; pwd; id -u; echo $FOO $KEEP; cat /mnt/real/hello.txt; printf "%s|" "$0"; exit 3', odd],
    timeoutMs: 60_000,
    uid: 1000,
    gid: 1000,
    env: { FOO: 'from-exec' },
  });
  const result = await vm.message('exec_result', (m) => m.id === '1');
  assert.equal(result.stdout.toString(), `out\n/tmp\n1000\nfrom-exec kept\nfrom the volume\n${odd}|`);
  assert.equal(result.stderr.toString(), 'err\n');
  assert.equal(result.code, 3);
  assert.equal(result.timedOut, false);

  vm.send({ type: 'exec', id: '2', args: ['sleep', '100'], timeoutMs: 300, uid: 0, gid: 0 });
  const slow = await vm.message('exec_result', (m) => m.id === '2');
  assert.equal(slow.timedOut, true);
  assert.equal(slow.signal, 9);

  vm.send({ type: 'exec', id: '3', args: ['/no/such/program'], timeoutMs: 5_000, uid: 0, gid: 0 });
  const none = await vm.message('exec_result', (m) => m.id === '3');
  assert.equal(none.code, 127);
  assert.match(none.stderr.toString(), /\/no\/such\/program: No such file or directory/);

  // eth0, its address, route and MTU, and resolv.conf, as the kernel and the image see them.
  vm.send({ type: 'exec', id: 'net', args: ['cat', '/proc/net/route', '/proc/net/if_inet6', '/sys/class/net/eth0/mtu', '/etc/resolv.conf', '/proc/sys/kernel/hostname'], timeoutMs: 10_000, uid: 0, gid: 0 });
  const net = (await vm.message('exec_result', (m) => m.id === 'net')).stdout.toString();
  assert.match(net, /eth0\s+00000000\s+0202000A\s+0003/); // default via 10.0.2.2, UP|GATEWAY
  assert.match(net, /fd000000000000000000000000000015 \S+ 40 00 80\s+eth0/);
  assert.match(net, /^1400$/m);
  assert.match(net, /nameserver 10\.0\.2\.3\nsearch internal\n/);
  assert.match(net, /^vm-test$/m);

  // The cgroup holds the Machine's limits; ps lists its processes, the main one first, not the init.
  vm.send({ type: 'exec', id: 'cg', args: ['sh', '-c', 'busybox mount -t cgroup2 none /sys/fs/cgroup && cat /sys/fs/cgroup/machine/memory.max /sys/fs/cgroup/machine/pids.max'], timeoutMs: 10_000, uid: 0, gid: 0 });
  assert.equal((await vm.message('exec_result', (m) => m.id === 'cg')).stdout.toString(), `${100 * 1024 * 1024}\n20\n`);
  const started = await vm.message('started');
  vm.send({ type: 'ps', id: 'ps' });
  const ps = await vm.message('ps_result', (m) => m.id === 'ps');
  assert.deepEqual(ps.processes.map((p) => [p.pid === started.pid, p.command, p.uid]), [[true, 'sleep 1000', 0], [false, 'sleep 1001', 0]]);
  assert.ok(ps.processes.every((p) => p.pid !== 1 && p.rssKb > 0));

  vm.send({ type: 'ping', id: 'p' });
  await vm.message('pong', (m) => m.id === 'p');

  vm.send({ type: 'signal', id: '4', signal: 15 });
  await vm.message('signal_result', (m) => m.id === '4');
  assert.deepEqual(await vm.message('exit'), { type: 'exit', code: 143, signal: 15, oom: false });
  vm.send({ type: 'poweroff' });
  assert.deepEqual(await vm.exited(), { code: 0, signal: null });
});
