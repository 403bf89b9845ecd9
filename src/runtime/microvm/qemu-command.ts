import { invalidField } from '../../lib/errors.ts';
import type { VmSpec } from './vmm.ts';

/** QEMU's x86-64 system emulator; `-M microvm` needs no firmware and no PCI. */
export const QEMU_BINARY = 'qemu-system-x86_64';

const MAC_PATTERN = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;
const NAME_PATTERN = /^[A-Za-z0-9_.-]{1,32}$/;

/**
 * The QEMU argv (without the binary) for a spec: `-M microvm`, direct kernel boot,
 * virtio-mmio block, net and serial devices, a QMP socket, the console appended to a
 * file. Two specs that differ only in `accel` give argvs that differ only in the word
 * after `-accel`, so a line tested under TCG runs unchanged on a host with KVM.
 *
 * QEMU parses `,` inside option values as a separator; paths holding one (or a newline)
 * are refused rather than escaped, since aloft chooses every path here.
 */
export function qemuArgs(spec: VmSpec): string[] {
  checkSpec(spec);
  const args = [
    // rtc=on: with the RTC off the kernel waits ~1-2.5 s under TCG for an RTC read to time out.
    '-M', 'microvm,x-option-roms=off,rtc=on',
    '-accel', spec.accel,
    // `max` is the host's CPU under KVM and every emulated feature under TCG.
    '-cpu', 'max',
    '-m', String(spec.memoryMb),
    '-smp', String(spec.cpus),
    '-nodefaults', '-no-user-config', '-display', 'none',
    // A guest reboot (poweroff via sysrq, panic=-1, triple fault) ends QEMU instead.
    '-no-reboot',
    '-kernel', spec.kernel,
  ];
  if (spec.initrd !== undefined) args.push('-initrd', spec.initrd);
  args.push('-append', spec.cmdline);
  spec.disks.forEach((disk, index) => {
    const readOnly = disk.readOnly === true ? ',readonly=on' : '';
    args.push('-drive', `file=${disk.path},if=none,id=disk${index},format=raw${readOnly}`);
    const serial = disk.serial === undefined ? '' : `,serial=${disk.serial}`;
    args.push('-device', `virtio-blk-device,drive=disk${index}${serial}`);
  });
  if (spec.net !== undefined) {
    args.push('-netdev', `tap,id=net0,ifname=${spec.net.tap},script=no,downscript=no`);
    args.push('-device', `virtio-net-device,netdev=net0,mac=${spec.net.mac}`);
  }
  args.push('-chardev', `file,id=console,path=${spec.consoleLog},append=on`, '-serial', 'chardev:console');
  if (spec.channel !== undefined) {
    // QEMU serves the socket, so the host can (re)connect whenever it likes, e.g. after
    // an agent restart, without the guest noticing.
    args.push('-chardev', `socket,id=channel,path=${spec.channel.socketPath},server=on,wait=off`);
    args.push('-device', 'virtio-serial-device');
    args.push('-device', `virtserialport,chardev=channel,name=${spec.channel.name}`);
  }
  args.push('-qmp', `unix:${spec.controlSocket},server=on,wait=off`);
  if (spec.paused === true) args.push('-S');
  if (spec.incoming !== undefined) args.push('-incoming', spec.incoming);
  return args;
}

function checkSpec(spec: VmSpec): void {
  const action = 'build the QEMU command line';
  if (spec.accel !== 'kvm' && spec.accel !== 'tcg') throw invalidField(action, 'accel', '"kvm" or "tcg"', spec.accel);
  if (!Number.isInteger(spec.memoryMb) || spec.memoryMb < 64 || spec.memoryMb > 1024 * 1024) {
    throw invalidField(action, 'memoryMb', 'an integer from 64 to 1048576', spec.memoryMb);
  }
  if (!Number.isInteger(spec.cpus) || spec.cpus < 1 || spec.cpus > 255) {
    throw invalidField(action, 'cpus', 'an integer from 1 to 255', spec.cpus);
  }
  const paths: [string, string | undefined][] = [
    ['kernel', spec.kernel],
    ['initrd', spec.initrd],
    ['consoleLog', spec.consoleLog],
    ['controlSocket', spec.controlSocket],
    ['channel.socketPath', spec.channel?.socketPath],
    ...spec.disks.map((disk, i): [string, string] => [`disks[${i}].path`, disk.path]),
  ];
  for (const [field, path] of paths) {
    if (path === undefined) continue;
    if (!path.startsWith('/') || /[,\n\0]/.test(path)) {
      throw invalidField(action, field, 'an absolute path without commas or newlines', path);
    }
  }
  if (/[\n\0]/.test(spec.cmdline)) throw invalidField(action, 'cmdline', 'a single line', spec.cmdline);
  spec.disks.forEach((disk, i) => {
    if (disk.serial !== undefined && !/^[A-Za-z0-9_.-]{1,20}$/.test(disk.serial)) throw invalidField(action, `disks[${i}].serial`, '1 to 20 of [A-Za-z0-9_.-]', disk.serial);
  });
  if (spec.net !== undefined) {
    if (!MAC_PATTERN.test(spec.net.mac)) throw invalidField(action, 'net.mac', 'a lower-case MAC like 02:00:ac:13:00:02', spec.net.mac);
    if (!/^[A-Za-z0-9_.-]{1,15}$/.test(spec.net.tap)) throw invalidField(action, 'net.tap', 'an interface name of 1 to 15 of [A-Za-z0-9_.-]', spec.net.tap);
  }
  if (spec.channel !== undefined && !NAME_PATTERN.test(spec.channel.name)) {
    throw invalidField(action, 'channel.name', '1 to 32 of [A-Za-z0-9_.-]', spec.channel.name);
  }
  if (spec.incoming !== undefined && /[\n\0]/.test(spec.incoming)) throw invalidField(action, 'incoming', 'a single line', spec.incoming);
}
