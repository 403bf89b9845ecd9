/**
 * bench runtime: each driver against the floor it builds on, measured in the same run
 * and at the Driver level (no API, store or proxy: `bench start` covers those).
 *
 * Per driver, the median of ALOFT_BENCH_RUNS (default 5) runs of: create→first HTTP 200
 * on the Machine's own IP (driver.start of the hello app's RunSpec, its netns and overlay
 * root made beforehand as the agent makes them), stop (SIGTERM, which the hello
 * entrypoint forwards), and resume from suspend→first 200; beside the raw baseline in
 * the same kind of netns: `runsc run --detach` of the same bundle (_runtime-oci.ts), and
 * QEMU with the driver's argv, kernel and root but a trivial init (_runtime-microvm.ts).
 * Then ALOFT_BENCH_IDLE (default 50) idle `oci` Machines: the memory of their processes
 * and the host's swap.
 *
 * Env: ALOFT_BENCH_DRIVERS (default "oci,microvm"), ALOFT_BENCH_ACCEL (default "tcg":
 * the goals are stated under TCG), ALOFT_BENCH_DEADLINE_S (default 600): past it every
 * phase stops at its next step, and a minute later a watchdog cleans up and exits.
 * The client is not pinned (bench api pins its load generator): here the runtimes' own
 * processes need every core, and the client only polls.
 *
 * Needs root, runsc, busybox-static, e2fsprogs, qemu-system-x86 and gcc (the guest init),
 * and the guest kernel cache (ALOFT_GUEST_CACHE, default /tmp/aloft-guest-cache).
 * Prints the raw figures on stderr and one JSON line on stdout, last.
 */
import { readFile } from 'node:fs/promises';
import type { Accel } from '../src/runtime/microvm/index.ts';
import { benchMicrovm } from './_runtime-microvm.ts';
import { benchOci } from './_runtime-oci.ts';
import { BenchWorld } from './_runtime-world.ts';

const positive = (name: string, fallback: number): number => {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(value) || value < 0) throw new Error(`bench runtime: ${name} must be a non-negative integer: got ${process.env[name]}`);
  return value;
};

async function main(): Promise<number> {
  if (process.getuid?.() !== 0) throw new Error('bench runtime needs root (it runs runsc and QEMU and makes network namespaces)');
  const runs = Math.max(1, positive('ALOFT_BENCH_RUNS', 5));
  const idle = positive('ALOFT_BENCH_IDLE', 50);
  const deadlineS = Math.max(30, positive('ALOFT_BENCH_DEADLINE_S', 600));
  const drivers = (process.env['ALOFT_BENCH_DRIVERS'] ?? 'oci,microvm').split(',').map((d) => d.trim());
  const accel = (process.env['ALOFT_BENCH_ACCEL'] ?? 'tcg') as Accel;
  if (accel !== 'tcg' && accel !== 'kvm') throw new Error(`bench runtime: ALOFT_BENCH_ACCEL must be tcg or kvm: got ${accel}`);

  const began = Date.now();
  const world = new BenchWorld(began + deadlineS * 1000);
  let cleaned: Promise<void> | undefined;
  const cleanup = (): Promise<void> => (cleaned ??= world.cleanup());
  // A phase stuck inside a runtime call never reaches a deadline check: end it all.
  const watchdog = setTimeout(() => {
    world.abort('the watchdog fired');
    process.stderr.write('bench runtime: the watchdog fired (deadline + 60 s); cleaning up\n');
    void cleanup().finally(() => process.exit(124));
  }, deadlineS * 1000 + 60_000);
  // On a signal, phases stop at their next step and main's `finally` cleans up; a second
  // signal, or a minute without that, cleans up now. (`on`, not `once`: tsx exits the
  // process itself when its own handler is the only one left.)
  let signals = 0;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      world.abort(`got ${signal}`);
      process.stderr.write(`bench runtime: got ${signal}; stopping and cleaning up\n`);
      const force = (): void => void cleanup().finally(() => process.exit(130));
      if (++signals > 1) force();
      else setTimeout(force, 60_000).unref();
    });
  }

  const figures: Record<string, number | string> = { bench: 'runtime', runs };
  let failed = false;
  try {
    await world.setup();
    if (drivers.includes('oci')) {
      Object.assign(figures, await benchOci(world, runs, idle).catch((err: unknown) => {
        failed = true;
        process.stderr.write(`bench runtime: oci failed: ${(err as Error).stack ?? String(err)}\n`);
        return { oci_error: (err as Error).message.slice(0, 300) };
      }));
    }
    if (drivers.includes('microvm')) {
      Object.assign(figures, await benchMicrovm(world, runs, accel).catch((err: unknown) => {
        failed = true;
        process.stderr.write(`bench runtime: microvm failed: ${(err as Error).stack ?? String(err)}\n`);
        return { microvm_error: (err as Error).message.slice(0, 300) };
      }));
    }
  } finally {
    await cleanup();
    clearTimeout(watchdog);
  }
  figures['seconds'] = Math.round((Date.now() - began) / 1000);
  figures['cpu'] = (await readFile('/proc/cpuinfo', 'utf8')).match(/model name\s*:\s*(.*)/)?.[1] ?? 'unknown';
  figures['load1'] = Number((await readFile('/proc/loadavg', 'utf8')).split(' ')[0]);
  console.log(JSON.stringify(figures));
  return failed ? 1 : 0;
}

// Exit at once: a driver may hold a socket or timer open after its Machines are gone,
// and a bench must end when its figures are out (stdout to a file or pipe is synchronous).
process.exit(await main());
