import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { release, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { execCommand } from '../../lib/command.ts';
import { AloftError } from '../../lib/errors.ts';
import { GUEST_KERNEL_APPEND } from '../../guest/kernel-cmdline.ts';
import { busyboxInitramfs } from './busybox-initramfs.ts';
import { QEMU_BINARY, qemuArgs } from './qemu-command.ts';
import type { Accel } from './vmm.ts';

/** Options of {@link detectAccel}. */
export interface AccelOptions {
  /** The guest kernel (PVH vmlinux) the probe boots: the one Machines will boot. */
  kernel: string;
  /** Where the answer is kept for this host (JSON). */
  cacheFile: string;
  /** A statically linked busybox for the probe's /init (default /bin/busybox). */
  busybox?: string;
  qemu?: string;
  /** How long the probe guest may take to power off (default 10 s; KVM boots it in < 1 s). */
  timeoutMs?: number;
}

/** The answer, and why. */
export interface AccelResult {
  accel: Accel;
  reason: string;
  /** True when read from the cache file rather than probed now. */
  cached: boolean;
}

/** What the probe's /init prints before powering off; only a guest that ran init says it. */
export const PROBE_MARKER = 'ALOFT-ACCEL-PROBE-OK';
const PROBE_INIT = `#!/bin/busybox sh
/bin/busybox mount -t proc proc /proc
echo ${PROBE_MARKER} > /dev/console
echo o > /proc/sysrq-trigger
# PID 1 must not exit before the power-off lands, or the kernel panics instead.
/bin/busybox sleep 30
`;

interface CacheEntry {
  key: string;
  accel: Accel;
  reason: string;
}

/**
 * Decides once per host whether QEMU can use KVM, by booting a tiny guest with
 * `-accel kvm` and seeing its /init run; anything else (QEMU refusing KVM, the guest
 * dying early as stock kernels do under PVM, a hang) means `tcg`. /dev/kvm existing
 * proves nothing (HOST.md). The answer is cached in `cacheFile`, keyed by the host
 * kernel, the QEMU version and the guest kernel, so a change to any of them probes again.
 */
export async function detectAccel(options: AccelOptions): Promise<AccelResult> {
  const qemu = options.qemu ?? QEMU_BINARY;
  const key = await cacheKey(qemu, options.kernel);
  const cached = await readCache(options.cacheFile);
  if (cached !== null && cached.key === key) return { accel: cached.accel, reason: cached.reason, cached: true };

  const outcome = await probeKvm(qemu, options.kernel, options.busybox ?? '/bin/busybox', options.timeoutMs ?? 10_000);
  const entry: CacheEntry = { key, ...outcome };
  await mkdir(dirname(options.cacheFile), { recursive: true });
  await writeFile(`${options.cacheFile}.tmp`, `${JSON.stringify(entry)}\n`);
  await rename(`${options.cacheFile}.tmp`, options.cacheFile);
  return { ...outcome, cached: false };
}

/** Boots the probe guest under `accel` and says whether its /init ran; exported for tests and the bench. */
export async function probeBoot(qemu: string, kernel: string, busybox: string, accel: Accel, timeoutMs: number): Promise<{ ok: boolean; detail: string; ms: number }> {
  const dir = await mkdtemp(join(tmpdir(), 'aloft-accel-'));
  try {
    const initrd = join(dir, 'probe.cpio');
    await writeFile(initrd, await busyboxInitramfs(PROBE_INIT, busybox));
    const consoleLog = join(dir, 'console.log');
    const args = qemuArgs({
      kernel,
      initrd,
      cmdline: GUEST_KERNEL_APPEND,
      disks: [],
      consoleLog,
      controlSocket: join(dir, 'qmp.sock'),
      memoryMb: 128,
      cpus: 1,
      accel,
    });
    const started = Date.now();
    const child = spawn(qemu, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
      // Under PVM a stock kernel stops QEMU with this and QEMU then waits forever.
      if (/KVM internal error|emulation failure/.test(stderr)) child.kill('SIGKILL');
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    const [code, signal] = (await once(child, 'exit')) as [number | null, string | null];
    clearTimeout(timer);
    const ms = Date.now() - started;
    const console = await readFile(consoleLog, 'utf8').catch(() => '');
    if (console.includes(PROBE_MARKER) && code === 0) return { ok: true, detail: `a guest booted to /init in ${ms} ms`, ms };
    const internal = /KVM internal error[^\n]*/.exec(stderr)?.[0];
    if (internal !== undefined) return { ok: false, detail: `QEMU stopped the probe guest with "${internal}"`, ms };
    if (signal !== null) return { ok: false, detail: `the probe guest did not power off within ${timeoutMs} ms`, ms };
    const why = stderr.trim().split('\n').at(-1) || `the guest stopped before /init (exit ${code})`;
    return { ok: false, detail: why, ms };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function probeKvm(qemu: string, kernel: string, busybox: string, timeoutMs: number): Promise<{ accel: Accel; reason: string }> {
  for (const [field, path] of [['kernel', kernel], ['busybox', busybox]] as const) {
    if (!(await stat(path).then((s) => s.isFile(), () => false))) {
      throw new AloftError('VMM_FAILED', `Cannot probe for KVM as '${field}' must be an existing file: got ${path}`);
    }
  }
  const result = await probeBoot(qemu, kernel, busybox, 'kvm', timeoutMs);
  return result.ok ? { accel: 'kvm', reason: `KVM works: ${result.detail}` } : { accel: 'tcg', reason: `KVM does not work here: ${result.detail}` };
}

async function cacheKey(qemu: string, kernel: string): Promise<string> {
  const version = await execCommand(qemu, ['--version'], { timeoutMs: 15_000, errorCode: 'RUNTIME_MISSING' });
  if (version.code !== 0) throw new AloftError('RUNTIME_MISSING', `Cannot probe for KVM as '${qemu}' must answer --version: got exit ${version.code}`);
  const info = await stat(kernel).catch(() => null);
  const guest = info === null ? 'missing' : `${info.size}:${Math.floor(info.mtimeMs)}`;
  return JSON.stringify([release(), version.stdout.split('\n')[0] ?? '', kernel, guest]);
}

async function readCache(path: string): Promise<CacheEntry | null> {
  try {
    const entry = JSON.parse(await readFile(path, 'utf8')) as Partial<CacheEntry>;
    if (typeof entry.key !== 'string' || (entry.accel !== 'kvm' && entry.accel !== 'tcg')) return null;
    return { key: entry.key, accel: entry.accel, reason: String(entry.reason ?? '') };
  } catch {
    // No cache, or a damaged one: probe again.
    return null;
  }
}
