import { z } from 'zod';

/**
 * A Machine's config, in the shape of Fly's `api.MachineConfig`
 * (shared/reference/fly-machines-openapi.yaml). Only `image` is required. Fields
 * aloft does not act on yet are accepted and kept (loose objects), so configs written
 * for Fly round-trip unchanged; the fields it does act on are typed and checked here.
 */
const port = z.number().int().min(1).max(65535);
const stringList = z.array(z.string());

export const machineGuestSchema = z.looseObject({
  cpu_kind: z.enum(['shared', 'performance']).optional(),
  cpus: z.number().int().min(1).max(64).optional(),
  memory_mb: z.number().int().min(64).max(256 * 1024).optional(),
  gpu_kind: z.string().optional(),
  gpus: z.number().int().min(0).optional(),
  kernel_args: stringList.optional(),
  /**
   * aloft's addition: which runtime isolates the Machine — "oci" (a gVisor/runc
   * sandbox) or "microvm" (a QEMU microVM); absent = the host's default. Fly clients
   * never send it and ignore it in answers.
   */
  driver: z.enum(['oci', 'microvm']).optional(),
});

export const machineInitSchema = z.looseObject({
  exec: stringList.optional(),
  entrypoint: stringList.optional(),
  cmd: stringList.optional(),
  tty: z.boolean().optional(),
  swap_size_mb: z.number().int().min(0).optional(),
});

export const machinePortSchema = z.looseObject({
  port: port.optional(),
  start_port: port.optional(),
  end_port: port.optional(),
  handlers: z.array(z.enum(['http', 'tls', 'proxy_proto', 'pg_tls', 'edge_http'])).optional(),
  force_https: z.boolean().optional(),
});

export const machineServiceConcurrencySchema = z.looseObject({
  type: z.enum(['connections', 'requests']).optional(),
  soft_limit: z.number().int().min(0).optional(),
  hard_limit: z.number().int().min(0).optional(),
});

export const machineCheckSchema = z.looseObject({
  type: z.enum(['tcp', 'http']).optional(),
  port: port.optional(),
  path: z.string().optional(),
  method: z.string().optional(),
  interval: z.string().optional(),
  timeout: z.string().optional(),
  grace_period: z.string().optional(),
});

export const machineServiceSchema = z.looseObject({
  protocol: z.enum(['tcp', 'udp']).default('tcp'),
  internal_port: port,
  ports: z.array(machinePortSchema).optional(),
  concurrency: machineServiceConcurrencySchema.optional(),
  checks: z.array(machineCheckSchema).optional(),
  autostart: z.boolean().optional(),
  autostop: z.union([z.boolean(), z.enum(['off', 'stop', 'suspend'])]).optional(),
  min_machines_running: z.number().int().min(0).optional(),
});

export const machineRestartSchema = z.looseObject({
  policy: z.enum(['no', 'always', 'on-failure', 'spot-price']).optional(),
  max_retries: z.number().int().min(0).optional(),
});

export const stopConfigSchema = z.looseObject({
  /** Signal name, e.g. "SIGINT" (Fly's default) or "SIGTERM". */
  signal: z.string().regex(/^SIG[A-Z0-9]+$/, 'a signal name such as "SIGTERM"').optional(),
  /** Go-style duration ("5s", "30s", "1m") or nanoseconds as Fly's API sometimes sends. */
  timeout: z.union([z.string(), z.number()]).optional(),
});

export const machineMountSchema = z.looseObject({
  volume: z.string().optional(),
  path: z.string().startsWith('/'),
  name: z.string().optional(),
});

export const machineConfigSchema = z.looseObject({
  image: z.string().min(1, 'a non-empty image reference'),
  env: z.record(z.string(), z.string()).optional(),
  init: machineInitSchema.optional(),
  guest: machineGuestSchema.optional(),
  services: z.array(machineServiceSchema).optional(),
  checks: z.record(z.string(), machineCheckSchema).optional(),
  restart: machineRestartSchema.optional(),
  stop_config: stopConfigSchema.optional(),
  mounts: z.array(machineMountSchema).optional(),
  metadata: z.record(z.string(), z.string()).optional(),
  auto_destroy: z.boolean().optional(),
  processes: z.array(z.looseObject({})).optional(),
  files: z.array(z.looseObject({})).optional(),
  schedule: z.string().optional(),
  size: z.string().optional(),
});

export type MachineConfig = z.infer<typeof machineConfigSchema>;
export type MachineService = z.infer<typeof machineServiceSchema>;
export type MachineGuest = z.infer<typeof machineGuestSchema>;

/** Defaults Fly applies when a guest is not given: shared-cpu-1x, 256 MB. */
export const DEFAULT_GUEST = { cpu_kind: 'shared', cpus: 1, memory_mb: 256 } as const;

/** Fly's default stop: SIGINT, then SIGKILL after 5 s. */
export const DEFAULT_STOP = { signal: 'SIGINT', timeoutMs: 5000 } as const;

/**
 * Parses a stop timeout as Fly sends it: a Go duration string ("5s", "1m30s", "500ms")
 * or a number of nanoseconds. Returns milliseconds, or undefined when not parseable.
 */
export function parseDurationMs(value: string | number | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? Math.round(value / 1e6) : undefined;
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g;
  let total = 0;
  let consumed = 0;
  for (const match of value.matchAll(re)) {
    const n = Number(match[1]);
    const unit = match[2]!;
    const factor = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[unit] ?? NaN;
    total += n * factor;
    consumed += match[0].length;
  }
  return consumed === value.length && consumed > 0 ? Math.round(total) : undefined;
}
