import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isAloftError } from '../../lib/errors.ts';
import { qemuArgs } from './qemu-command.ts';
import type { VmSpec } from './vmm.ts';

const spec: VmSpec = {
  kernel: '/cache/vmlinux',
  initrd: '/cache/initrd.cpio',
  cmdline: 'console=ttyS0 panic=-1',
  disks: [{ path: '/w/rootfs.ext4', serial: 'root' }, { path: '/w/config.ext4', readOnly: true }],
  net: { tap: 'tap0', mac: '02:00:ac:13:00:05' },
  channel: { socketPath: '/w/channel.sock', name: 'aloft.0' },
  consoleLog: '/w/console.log',
  controlSocket: '/w/qmp.sock',
  memoryMb: 256,
  cpus: 2,
  accel: 'tcg',
};

/** The value that follows `flag`, each time it appears. */
function values(args: string[], flag: string): string[] {
  return args.flatMap((arg, i) => (arg === flag ? [args[i + 1] ?? ''] : []));
}

test('builds the microvm line with direct boot and virtio-mmio devices', () => {
  const args = qemuArgs(spec);
  assert.deepEqual(values(args, '-M'), ['microvm,x-option-roms=off,rtc=on']);
  assert.deepEqual(values(args, '-accel'), ['tcg']);
  assert.deepEqual(values(args, '-m'), ['256']);
  assert.deepEqual(values(args, '-smp'), ['2']);
  assert.deepEqual(values(args, '-kernel'), ['/cache/vmlinux']);
  assert.deepEqual(values(args, '-initrd'), ['/cache/initrd.cpio']);
  assert.deepEqual(values(args, '-append'), ['console=ttyS0 panic=-1']);
  for (const flag of ['-nodefaults', '-no-user-config', '-no-reboot']) assert.ok(args.includes(flag), flag);
  assert.deepEqual(values(args, '-drive'), [
    'file=/w/rootfs.ext4,if=none,id=disk0,format=raw',
    'file=/w/config.ext4,if=none,id=disk1,format=raw,readonly=on',
  ]);
  assert.deepEqual(values(args, '-device'), [
    'virtio-blk-device,drive=disk0,serial=root',
    'virtio-blk-device,drive=disk1',
    'virtio-net-device,netdev=net0,mac=02:00:ac:13:00:05',
    'virtio-serial-device',
    'virtserialport,chardev=channel,name=aloft.0',
  ]);
  assert.deepEqual(values(args, '-netdev'), ['tap,id=net0,ifname=tap0,script=no,downscript=no']);
  assert.deepEqual(values(args, '-chardev'), [
    'file,id=console,path=/w/console.log,append=on',
    'socket,id=channel,path=/w/channel.sock,server=on,wait=off',
  ]);
  assert.deepEqual(values(args, '-serial'), ['chardev:console']);
  assert.deepEqual(values(args, '-qmp'), ['unix:/w/qmp.sock,server=on,wait=off']);
  assert.ok(!args.includes('-S') && !args.includes('-incoming'));
});

test('kvm and tcg lines differ only in the accelerator', () => {
  const tcg = qemuArgs(spec);
  const kvm = qemuArgs({ ...spec, accel: 'kvm' });
  const differing = tcg.flatMap((arg, i) => (arg === kvm[i] ? [] : [[arg, kvm[i]]]));
  assert.equal(tcg.length, kvm.length);
  assert.deepEqual(differing, [['tcg', 'kvm']]);
});

test('a restore is the same line plus -S and -incoming', () => {
  const boot = qemuArgs(spec);
  const restore = qemuArgs({ ...spec, paused: true, incoming: 'exec:zstd -dc /w/snap.zst' });
  assert.deepEqual(restore.slice(0, boot.length), boot);
  assert.deepEqual(restore.slice(boot.length), ['-S', '-incoming', 'exec:zstd -dc /w/snap.zst']);
});

test('optional devices are left out', () => {
  const args = qemuArgs({ ...spec, disks: [], net: undefined as never, channel: undefined as never, initrd: undefined as never });
  assert.ok(!args.includes('-initrd') && !args.includes('-netdev') && !args.includes('-drive'));
  assert.deepEqual(values(args, '-device'), []);
});

test('refuses bad inputs with the field and the value', () => {
  const cases: [Partial<VmSpec>, RegExp][] = [
    [{ accel: 'hvf' as never }, /'accel' must be "kvm" or "tcg": got "hvf"/],
    [{ memoryMb: 12 }, /'memoryMb' must be an integer from 64/],
    [{ cpus: 0 }, /'cpus' must be an integer from 1 to 255: got 0/],
    [{ kernel: 'vmlinux' }, /'kernel' must be an absolute path/],
    [{ disks: [{ path: '/a,b.ext4' }] }, /'disks\[0\].path' must be an absolute path without commas/],
    [{ net: { tap: 'tap0', mac: 'zz' } }, /'net.mac' must be a lower-case MAC/],
    [{ net: { tap: 'a-very-long-tap-name', mac: '02:00:00:00:00:01' } }, /'net.tap' must be an interface name/],
    [{ cmdline: 'a\nb' }, /'cmdline' must be a single line/],
    [{ channel: { socketPath: '/w/c.sock', name: 'bad name' } }, /'channel.name' must be/],
  ];
  for (const [change, message] of cases) {
    assert.throws(
      () => qemuArgs({ ...spec, ...change }),
      (err: unknown) => isAloftError(err, 'INVALID_ARGUMENT') && message.test(err.message) && err.message.startsWith('Cannot build the QEMU command line as'),
    );
  }
});
