/**
 * bench runtime, the `microvm` part: create→first 200, suspend-to-disk then restore→
 * first 200, and stop through MicrovmDriver; beside raw QEMU booting the same kernel,
 * the same QEMU argv (qemuArgs of the same VmSpec shape) and the same image's root
 * as ext4, with a trivial init.
 *
 * The raw baseline's init: the driver's initramfs with its /init replaced by a busybox
 * script that loads the same virtio modules, mounts the same ext4 root (and /dev and
 * /proc in it, which the entrypoint's shell needs), puts the
 * Machine's addresses on eth0 with busybox `ip`, and chroots into the hello entrypoint.
 * That is the least any guest must do to serve HTTP from this image on this network,
 * so the gap is what aloft adds: aloft-init (run config, mounts, process supervision),
 * the host channel and its `started` handshake, and the driver's own work (the ext4
 * image of the root, the tap, the per-Machine initrd). The baseline's root image, tap
 * and initrd are made before its clock starts, as `bench start` does for raw runsc.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { buildExt4Image } from '../src/image/index.ts';
import { writeCpio } from '../src/guest/cpio.ts';
import { buildGuestInit } from '../src/guest/init-binary.ts';
import { initramfsEntries } from '../src/guest/initramfs.ts';
import { GUEST_KERNEL_APPEND } from '../src/guest/kernel-cmdline.ts';
import { ensureGuestKernel } from '../src/guest/kernel.ts';
import { GUEST_PORT_NAME } from '../src/guest/protocol.ts';
import { GUEST_MEMORY_OVERHEAD_MB } from '../src/runtime/microvm/microvm-driver.ts';
import { MicrovmDriver, QEMU_BINARY, attachTap, detachTap, qemuArgs, type Accel, type VmSpec } from '../src/runtime/microvm/index.ts';
import { TEST_GUEST_CACHE } from '../src/runtime/microvm/test-kernel.ts';
import { readPid, treeMemory } from './_runtime-memory.ts';
import { median, round, type BenchWorld } from './_runtime-world.ts';

/** What the microvm part measured (ms and MB). */
export type MicrovmFigures = Record<string, number | string>;

/** Runs the microvm phases, `runs` of each. */
export async function benchMicrovm(world: BenchWorld, runs: number, accel: Accel): Promise<MicrovmFigures> {
  // Short: QEMU's sockets live under it (108-byte limit).
  const stateRoot = await mkdtemp(join(tmpdir(), 'amb-'));
  const driver = new MicrovmDriver({ stateRoot, cacheDir: TEST_GUEST_CACHE, accel });
  await driver.check();
  world.onCleanup(async () => {
    for (const id of await driver.list().catch(() => [])) {
      await driver.stop(id, { signal: 'SIGKILL', timeoutMs: 10_000 }).catch(() => undefined);
      await driver.remove(id).catch(() => undefined);
    }
    await rm(stateRoot, { recursive: true, force: true });
  });

  const start: number[] = [];
  const returned: number[] = [];
  const resume: number[] = [];
  const suspend: number[] = [];
  const stop: number[] = [];
  const rss: number[] = [];
  for (let i = 0; i < runs; i++) {
    const m = await world.machine();
    const t0 = performance.now();
    await driver.start(m.spec);
    returned.push(performance.now() - t0);
    start.push((await world.until200(m.url)) - t0);
    const qemu = await readPid(join(stateRoot, m.id, 'vm', 'qemu.pid'));
    if (qemu !== null) rss.push((await treeMemory([qemu])).rssKb / 1024);
    const t1 = performance.now();
    const outcome = await driver.suspend(m.id);
    suspend.push(performance.now() - t1);
    if (outcome.how !== 'checkpointed') throw new Error(`microvm suspend did not checkpoint: ${JSON.stringify(outcome)}`);
    const t2 = performance.now();
    await driver.restoreFromSuspend(m.id);
    resume.push((await world.until200(m.url)) - t2);
    const t3 = performance.now();
    await driver.stop(m.id, { signal: 'SIGTERM', timeoutMs: 10_000 });
    stop.push(performance.now() - t3);
    await driver.remove(m.id);
    await world.release(m);
  }

  const raw = await rawQemu(world, runs, accel);
  process.stderr.write(
    `microvm (${accel}) driver start→200 (ms): ${start.map((x) => round(x)).join(' ')}\n` +
      `microvm (${accel}) driver start resolved (ms): ${returned.map((x) => round(x)).join(' ')}\n` +
      `microvm (${accel}) raw qemu→200 (ms): ${raw.times.map((x) => round(x)).join(' ')}\n` +
      `microvm raw prep: ensureGuestKernel ${raw.prep.kernel.map((x) => round(x)).join(' ')}; attachTap ${raw.prep.tap.map((x) => round(x)).join(' ')}; ext4 ${raw.prep.ext4.map((x) => round(x)).join(' ')}\n` +
      `microvm suspend (ms): ${suspend.map((x) => round(x)).join(' ')}\n` +
      `microvm restore→200 (ms): ${resume.map((x) => round(x)).join(' ')}\n` +
      `microvm stop SIGTERM (ms): ${stop.map((x) => round(x)).join(' ')}\n`,
  );
  const startMs = median(start);
  const rawMs = median(raw.times);
  const resumeMs = median(resume);
  return {
    microvm_accel: accel,
    microvm_start_ms: round(startMs),
    microvm_raw_start_ms: round(rawMs),
    microvm_overhead_ratio: round(startMs / rawMs, 2),
    microvm_resume_ms: round(resumeMs),
    microvm_resume_speedup: round(startMs / resumeMs, 1),
    microvm_start_resolved_ms: round(median(returned)),
    microvm_prep_kernel_ms: round(median(raw.prep.kernel)),
    microvm_prep_tap_ms: round(median(raw.prep.tap)),
    microvm_prep_ext4_ms: round(median(raw.prep.ext4)),
    microvm_suspend_ms: round(median(suspend)),
    microvm_stop_ms: round(median(stop)),
    microvm_idle_rss_mb: round(median(rss)),
  };
}

/** The trivial /init of the raw baseline (see the file's comment); addresses and routes come as lines. */
function trivialInit(addresses: string[], routes: { destination: string; gateway: string }[], env: Record<string, string>): string {
  const net = [
    ...addresses.map((a) => `$bb ip addr add ${a} dev eth0`),
    '$bb ip link set eth0 up',
    ...routes.map((r) => `$bb ip ${r.gateway.includes(':') ? '-6' : '-4'} route add ${r.destination} via ${r.gateway} dev eth0`),
  ];
  const exports = Object.entries(env).map(([k, v]) => `export ${k}='${v.replace(/'/g, `'\\''`)}'`);
  return `#!/bin/sh
bb=/bin/busybox
$bb mount -t devtmpfs -o mode=0755 devtmpfs /dev
$bb mount -t proc proc /proc
$bb mount -t sysfs sysfs /sys
for m in $($bb cat /lib/modules/order); do $bb insmod /lib/modules/$m.ko; done
i=0
while [ ! -b /dev/vda ] && [ $i -lt 250 ]; do $bb usleep 20000; i=$((i + 1)); done
$bb mount -t ext4 -o rw,noatime /dev/vda /newroot
$bb mkdir -p /newroot/dev /newroot/proc
$bb mount -t devtmpfs devtmpfs /newroot/dev
$bb mount -t proc proc /newroot/proc
$bb ip link set lo up
${net.join('\n')}
${exports.join('\n')}
exec $bb chroot /newroot /bin/sh /entrypoint.sh
`;
}

/**
 * Raw QEMU: per run, a fresh Machine's netns with the same tap the driver makes
 * (attachTap), its root as ext4, and an initrd with the trivial init, all before the
 * clock; then `nsenter --net qemu-system-x86_64 <the driver's argv>` → first 200.
 */
async function rawQemu(world: BenchWorld, runs: number, accel: Accel): Promise<RawQemu> {
  const kernel = await ensureGuestKernel(TEST_GUEST_CACHE);
  const entries = (await initramfsEntries({ kernel, init: await buildGuestInit(TEST_GUEST_CACHE) })).filter((e) => e.path !== 'aloft/init');
  const children = new Set<number>();
  world.onCleanup(async () => {
    for (const pid of children) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });
  const times: number[] = [];
  const prep = { kernel: [] as number[], tap: [] as number[], ext4: [] as number[] };
  for (let i = 0; i < runs; i++) {
    const m = await world.machine();
    const dir = await mkdtemp(join(tmpdir(), 'amr-'));
    const stateFile = join(dir, 'net.json');
    const netnsPath = m.spec.netnsPath!;
    try {
      // Timed, as parts of what the driver's start does and this baseline does beforehand.
      let t = performance.now();
      await ensureGuestKernel(TEST_GUEST_CACHE);
      prep.kernel.push(performance.now() - t);
      t = performance.now();
      const net = await attachTap(netnsPath, { stateFile });
      prep.tap.push(performance.now() - t);
      const rootImage = join(dir, 'rootfs.ext4');
      t = performance.now();
      await buildExt4Image(m.spec.rootfs, rootImage);
      prep.ext4.push(performance.now() - t);
      const init = trivialInit(net.addresses, net.routes, m.spec.process.env);
      const initrd = join(dir, 'initrd');
      await writeFile(initrd, gzipSync(writeCpio(entries.map((e) => (e.path === 'init' && e.type === 'file' ? { ...e, data: Buffer.from(init) } : e))), { level: 9 }));
      const vmSpec: VmSpec = {
        kernel: kernel.vmlinux,
        initrd,
        cmdline: GUEST_KERNEL_APPEND,
        disks: [{ path: rootImage, serial: 'root' }],
        net: { tap: net.tap, mac: net.mac },
        channel: { socketPath: join(dir, 'ch.sock'), name: GUEST_PORT_NAME },
        consoleLog: join(dir, 'console.log'),
        controlSocket: join(dir, 'qmp.sock'),
        memoryMb: m.spec.limits.memoryMb + GUEST_MEMORY_OVERHEAD_MB,
        cpus: Math.max(1, Math.ceil(m.spec.limits.cpus)),
        accel,
        netnsPath,
      };
      const t0 = performance.now();
      const child = spawn('nsenter', [`--net=${netnsPath}`, QEMU_BINARY, ...qemuArgs(vmSpec)], { stdio: 'ignore' });
      await once(child, 'spawn');
      children.add(child.pid!);
      const exited = once(child, 'exit');
      try {
        const quit = exited.then((): never => {
          throw new Error('raw QEMU exited before its first 200');
        });
        // Killing it after the 200 rejects `quit` too: that is not an error.
        quit.catch(() => undefined);
        times.push((await Promise.race([world.until200(m.url), quit])) - t0);
      } catch (err) {
        const output = await readFile(vmSpec.consoleLog, 'utf8').catch(() => '');
        // The init's own lines and the panic say why; the kernel's register dump does not.
        const said = output.split('\n').filter((l) => !/^\[\s*\d/.test(l) || /panic/i.test(l));
        throw new Error(`${(err as Error).message}; its console: ${said.join('\n').slice(-800)}`);
      } finally {
        child.kill('SIGKILL');
        await exited;
        children.delete(child.pid!);
      }
      await detachTap(netnsPath, { stateFile });
    } finally {
      await rm(dir, { recursive: true, force: true });
      await world.release(m);
    }
  }
  return { times, prep };
}

/** Raw QEMU's times to the first 200, and what its preparation steps took (ms). */
interface RawQemu {
  times: number[];
  prep: { kernel: number[]; tap: number[]; ext4: number[] };
}
