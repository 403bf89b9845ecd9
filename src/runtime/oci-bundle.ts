import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { RunSpec } from './driver.ts';

/** The OCI runtimes the `oci` driver can drive. */
export type OciRuntime = 'runsc' | 'runc';

/** The subset of the OCI runtime spec (config.json) that aloft writes. */
export interface OciConfig {
  ociVersion: string;
  process: {
    terminal: boolean;
    user: { uid: number; gid: number; additionalGids?: number[] };
    args: string[];
    env: string[];
    cwd: string;
    capabilities: Record<'bounding' | 'effective' | 'permitted', string[]>;
    noNewPrivileges: boolean;
  };
  root: { path: string; readonly: boolean };
  hostname: string;
  mounts: { destination: string; type: string; source: string; options?: string[] }[];
  linux: {
    cgroupsPath: string;
    resources: {
      devices: { allow: boolean; access: string }[];
      memory: { limit: number };
      cpu: { shares: number; quota: number; period: number };
      pids: { limit: number };
    };
    namespaces: { type: string; path?: string }[];
    maskedPaths: string[];
    readonlyPaths: string[];
  };
}

/**
 * Docker's default capability set: enough for ordinary images (bind low ports, drop
 * privileges, chown files) without the ones that reach the host (SYS_ADMIN, NET_ADMIN…).
 */
export const DEFAULT_CAPABILITIES = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FSETID',
  'CAP_FOWNER',
  'CAP_MKNOD',
  'CAP_NET_RAW',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETFCAP',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT',
  'CAP_KILL',
  'CAP_AUDIT_WRITE',
] as const;

/** Pids limit when the Machine's config gives none. */
export const DEFAULT_PIDS_LIMIT = 4096;
/**
 * runsc's own threads count against the sandbox's pids cgroup (~55 when idle, more
 * under load) and a limit they hit panics the whole sandbox (HOST.md), so runsc gets
 * this much on top of what the Machine asked for.
 */
export const RUNSC_PIDS_ALLOWANCE = 1024;

const CPU_PERIOD_US = 100_000;

/** Options that are not part of the RunSpec: they belong to one run of one runtime. */
export interface BundleOptions {
  runtime: OciRuntime;
  /** Unique per run: a crashed sandbox leaves its cgroup and a reused path inherits its limits. */
  cgroupsPath: string;
}

/**
 * Builds the OCI runtime spec for one run of a Machine. Pure: no I/O. Mounts, masked
 * and read-only paths follow `runc spec`'s defaults; the root stays writable because it
 * is the Machine's own copy.
 */
export function buildOciConfig(spec: RunSpec, options: BundleOptions): OciConfig {
  const caps = [...DEFAULT_CAPABILITIES];
  const pids =
    options.runtime === 'runsc'
      ? (spec.limits.pids ?? DEFAULT_PIDS_LIMIT) + RUNSC_PIDS_ALLOWANCE
      : (spec.limits.pids ?? DEFAULT_PIDS_LIMIT);
  const network: { type: string; path?: string } =
    spec.netnsPath === null ? { type: 'network' } : { type: 'network', path: spec.netnsPath };
  const user: OciConfig['process']['user'] = { uid: spec.process.uid, gid: spec.process.gid };
  if (spec.process.additionalGids.length > 0) user.additionalGids = [...spec.process.additionalGids];
  return {
    ociVersion: '1.0.2-dev',
    process: {
      terminal: false,
      user,
      args: [...spec.process.args],
      env: Object.entries(spec.process.env).map(([key, value]) => `${key}=${value}`),
      cwd: spec.process.cwd,
      capabilities: { bounding: caps, effective: caps, permitted: caps },
      // No rlimits: raising a hard limit needs CAP_SYS_RESOURCE, which a host (or CI
      // container) may lack, so the Machine inherits the agent's limits instead.
      noNewPrivileges: true,
    },
    root: { path: spec.rootfs, readonly: false },
    hostname: spec.hostname,
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
      {
        destination: '/dev/pts',
        type: 'devpts',
        source: 'devpts',
        options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
      },
      { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
      { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
      { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'] },
      // Volumes last, so they sit over anything above at the same path.
      ...(spec.mounts ?? []).map((m) => ({ destination: m.destination, type: 'bind', source: m.source, options: ['rbind', 'rw'] })),
    ],
    linux: {
      cgroupsPath: options.cgroupsPath,
      resources: {
        // Deny everything; runc and runsc add the standard safe devices (null, zero, tty…).
        devices: [{ allow: false, access: 'rwm' }],
        memory: { limit: Math.round(spec.limits.memoryMb * 1024 * 1024) },
        cpu: {
          shares: Math.max(2, Math.round(spec.limits.cpus * 1024)),
          quota: Math.round(spec.limits.cpus * CPU_PERIOD_US),
          period: CPU_PERIOD_US,
        },
        pids: { limit: pids },
      },
      namespaces: [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }, network],
      maskedPaths: [
        '/proc/acpi',
        '/proc/asound',
        '/proc/kcore',
        '/proc/keys',
        '/proc/latency_stats',
        '/proc/timer_list',
        '/proc/timer_stats',
        '/proc/sched_debug',
        '/sys/firmware',
        '/proc/scsi',
      ],
      readonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
    },
  };
}

/** Writes `<bundleDir>/config.json` for this run; returns the bundle dir. */
export async function writeBundle(spec: RunSpec, bundleDir: string, options: BundleOptions): Promise<string> {
  await mkdir(bundleDir, { recursive: true });
  await writeFile(join(bundleDir, 'config.json'), `${JSON.stringify(buildOciConfig(spec, options), null, 2)}\n`, { mode: 0o600 });
  return bundleDir;
}
