/**
 * The initramfs's /init: a busybox script that does what needs the kernel modules and
 * nothing else, then hands over to aloft-init. It loads the virtio drivers in order,
 * mounts the image's ext4 root at /newroot (the disk with serial `root`, else /dev/vda),
 * and execs /aloft/init. A failure here cannot reach the host's channel (that needs
 * aloft-init), so it is printed on the console and the VM powers off, which the host
 * sees as QEMU exiting without an `exit` message.
 */
export const INIT_SCRIPT = `#!/bin/sh
bb=/bin/busybox
die() { echo "aloft-init: fatal: $*"; $bb sync; $bb poweroff -f; exit 1; }
$bb mount -t devtmpfs -o mode=0755 devtmpfs /dev || die "mount /dev"
$bb mount -t proc proc /proc || die "mount /proc"
$bb mount -t sysfs sysfs /sys || die "mount /sys"
for m in $($bb cat /lib/modules/order); do
  $bb insmod /lib/modules/$m.ko || die "insmod $m"
done
root=
i=0
while [ -z "$root" ] && [ $i -lt 250 ]; do
  for s in /sys/block/vd*/serial; do
    [ -e "$s" ] && [ "$($bb cat "$s")" = root ] && root=/dev/\${s#/sys/block/} && root=\${root%/serial}
  done
  [ -z "$root" ] && [ -b /dev/vda ] && [ ! -e /sys/block/vdb ] && root=/dev/vda
  [ -z "$root" ] && { $bb usleep 20000; i=$((i + 1)); }
done
[ -n "$root" ] || root=/dev/vda
$bb mount -t ext4 -o rw,noatime "$root" /newroot || die "mount root $root"
exec /aloft/init
`;
