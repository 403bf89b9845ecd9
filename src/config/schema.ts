import { z } from 'zod';
import {
  autostopValue, boolValue, commandValue, countValue, durationValue, envValue, killTimeoutValue, maxUnavailableValue, memoryValue,
  methodValue, oneOf, portValue, signalValue, stringListValue, stringValue, volumeSizeValue,
} from './values.ts';

/**
 * fly.toml (and aloft.toml, the same format) as zod schemas: every key of Fly's v1 and
 * v2 formats that PLATFORM.md lists, with values normalised by values.ts (durations in
 * ms, memory in MB, volume sizes in GB, ports as numbers, autostop as a string).
 * Tables strip keys they do not know; keys.ts warns about each of them first.
 */

/** A table written either once (`[mounts]`) or as an array of tables (`[[mounts]]`): always a list. */
function oneOrMany<T extends z.ZodType>(table: T) {
  return z.preprocess((v) => (Array.isArray(v) ? v : v === undefined ? v : [v]), z.array(table));
}

const processes = stringListValue.optional();

const headers = z.record(z.string(), stringListValue);

const concurrency = z.object({
  type: oneOf(['connections', 'requests']).optional(),
  soft_limit: countValue.optional(),
  hard_limit: countValue.optional(),
});

const tlsOptions = z.object({
  alpn: stringListValue.optional(),
  versions: stringListValue.optional(),
  default_self_signed: boolValue.optional(),
});

const httpOptions = z.object({
  compress: boolValue.optional(),
  h2_backend: boolValue.optional(),
  idle_timeout: countValue.optional(),
  response: z.object({ headers: z.record(z.string(), z.unknown()).optional(), pristine: boolValue.optional() }).optional(),
});

const checkTiming = {
  interval: durationValue.optional(),
  timeout: durationValue.optional(),
  grace_period: durationValue.optional(),
  /** v1: restarts after this many failures; Machines ignore it, so it is read and dropped. */
  restart_limit: countValue.optional(),
  port: portValue.optional(),
};

const httpCheckFields = {
  ...checkTiming,
  method: methodValue.optional(),
  path: stringValue.optional(),
  protocol: oneOf(['http', 'https']).optional(),
  tls_skip_verify: boolValue.optional(),
  tls_server_name: stringValue.optional(),
  headers: headers.optional(),
};

export const tcpCheckSchema = z.object(checkTiming);
export const httpCheckSchema = z.object(httpCheckFields);

/** `[checks.NAME]`: health checks of the Machine itself, not tied to routing. */
export const topLevelCheckSchema = z.object({
  ...httpCheckFields,
  type: oneOf(['tcp', 'http', 'script']).optional(),
  processes,
  /** v1 script checks: read so they are not "unknown", then dropped with a warning. */
  command: stringValue.optional(),
  args: stringListValue.optional(),
});

export const portSchema = z.object({
  port: portValue.optional(),
  start_port: portValue.optional(),
  end_port: portValue.optional(),
  handlers: z.array(oneOf(['http', 'tls', 'proxy_proto', 'pg_tls', 'edge_http'])).optional(),
  force_https: boolValue.optional(),
  tls_options: tlsOptions.optional(),
  http_options: httpOptions.optional(),
  proxy_proto_options: z.object({ version: oneOf(['v1', 'v2']).optional() }).optional(),
})
  .refine((p) => p.port !== undefined || (p.start_port !== undefined && p.end_port !== undefined), {
    message: 'a port from 1 to 65535 (or a range in start_port and end_port)',
    path: ['port'],
  })
  .refine((p) => p.start_port === undefined || p.end_port === undefined || p.start_port <= p.end_port, {
    message: 'a port no lower than start_port',
    path: ['end_port'],
  });

const autoscale = {
  auto_stop_machines: autostopValue.optional(),
  auto_start_machines: boolValue.optional(),
  min_machines_running: countValue.optional(),
};

export const serviceSchema = z.object({
  protocol: oneOf(['tcp', 'udp']).optional(),
  internal_port: portValue,
  processes,
  ...autoscale,
  concurrency: concurrency.optional(),
  ports: oneOrMany(portSchema).optional(),
  tcp_checks: oneOrMany(tcpCheckSchema).optional(),
  http_checks: oneOrMany(httpCheckSchema).optional(),
  /** v1 only; Machines have no script checks (a warning says so when one is given). */
  script_checks: z.array(z.unknown()).optional(),
});

export const httpServiceSchema = z.object({
  internal_port: portValue.default(8080),
  force_https: boolValue.optional(),
  processes,
  ...autoscale,
  concurrency: concurrency.optional(),
  tls_options: tlsOptions.optional(),
  http_options: httpOptions.optional(),
  checks: oneOrMany(httpCheckSchema).optional(),
});

export const vmSchema = z.object({
  size: stringValue.optional(),
  memory: memoryValue.optional(),
  memory_mb: memoryValue.optional(),
  cpus: countValue.optional(),
  cpu_kind: oneOf(['shared', 'performance']).optional(),
  gpus: countValue.optional(),
  gpu_kind: stringValue.optional(),
  kernel_args: stringListValue.optional(),
  host_dedication_id: stringValue.optional(),
  persist_rootfs: oneOf(['never', 'always', 'restart']).optional(),
  processes,
});

export const mountSchema = z.object({
  source: stringValue,
  destination: stringValue.refine((s) => s.startsWith('/'), 'an absolute path such as "/data"'),
  initial_size: volumeSizeValue.optional(),
  processes,
  encrypted: boolValue.optional(),
  snapshot_retention: countValue.optional(),
  scheduled_snapshots: boolValue.optional(),
  auto_extend_size_threshold: countValue.optional(),
  auto_extend_size_increment: volumeSizeValue.optional(),
  auto_extend_size_limit: volumeSizeValue.optional(),
});

export const staticSchema = z.object({
  guest_path: stringValue,
  url_prefix: stringValue,
  tigris_bucket: stringValue.optional(),
  index_document: stringValue.optional(),
});

export const metricsSchema = z.object({
  port: portValue,
  path: stringValue.default('/metrics'),
  https: boolValue.optional(),
  processes,
});

export const restartSchema = z.object({
  policy: oneOf(['always', 'never', 'on-failure', 'no', 'spot-price']).optional(),
  max_retries: countValue.optional(),
  processes,
});

export const fileSchema = z.object({
  guest_path: stringValue,
  local_path: stringValue.optional(),
  raw_value: stringValue.optional(),
  secret_name: stringValue.optional(),
  processes,
});

export const buildSchema = z.object({
  image: stringValue.optional(),
  dockerfile: stringValue.optional(),
  'build-target': stringValue.optional(),
  ignorefile: stringValue.optional(),
  args: z.record(z.string(), envValue).optional(),
  builder: stringValue.optional(),
  builtin: stringValue.optional(),
  buildpacks: stringListValue.optional(),
  settings: z.record(z.string(), z.unknown()).optional(),
});

export const deploySchema = z.object({
  strategy: oneOf(['rolling', 'immediate', 'canary', 'bluegreen']).optional(),
  max_unavailable: maxUnavailableValue.optional(),
  wait_timeout: durationValue.optional(),
  release_command: stringValue.optional(),
  release_command_timeout: durationValue.optional(),
  /** aloft's addition: a rolling deploy that fails its checks redeploys the previous successful release. */
  auto_rollback: boolValue.optional(),
});

export const experimentalSchema = z.object({
  cmd: commandValue.optional(),
  entrypoint: commandValue.optional(),
  exec: commandValue.optional(),
  auto_rollback: boolValue.optional(),
  enable_consul: boolValue.optional(),
  enable_etcd: boolValue.optional(),
  private_network: boolValue.optional(),
  allowed_public_ports: z.array(portValue).optional(),
  lazy_load_images: boolValue.optional(),
  attached: z.record(z.string(), z.unknown()).optional(),
});

/** v1 files write `processes = []` at the top: the same as no [processes] table. */
const processTable = z.preprocess(
  (v) => (Array.isArray(v) && v.length === 0 ? undefined : v),
  z.record(z.string(), z.string().refine((s) => s.trim() !== '', 'a non-empty command')).optional(),
);

export const appConfigSchema = z.object({
  app: stringValue.optional(),
  primary_region: stringValue.optional(),
  kill_signal: signalValue.optional(),
  kill_timeout: killTimeoutValue.optional(),
  swap_size_mb: countValue.optional(),
  console_command: stringValue.optional(),
  host_dedication_id: stringValue.optional(),
  build: buildSchema.optional(),
  deploy: deploySchema.optional(),
  env: z.record(z.string(), envValue).optional(),
  processes: processTable.optional(),
  http_service: httpServiceSchema.optional(),
  services: oneOrMany(serviceSchema).optional(),
  checks: z.record(z.string(), topLevelCheckSchema).optional(),
  vm: oneOrMany(vmSchema).optional(),
  /** `[[compute]]`: flyctl's other name for `[[vm]]`, merged into `vm`. */
  compute: oneOrMany(vmSchema).optional(),
  mounts: oneOrMany(mountSchema).optional(),
  /** `[mount]`: an old singular spelling of `[mounts]`, merged into `mounts`. */
  mount: oneOrMany(mountSchema).optional(),
  statics: oneOrMany(staticSchema).optional(),
  metrics: oneOrMany(metricsSchema).optional(),
  restart: oneOrMany(restartSchema).optional(),
  files: oneOrMany(fileSchema).optional(),
  experimental: experimentalSchema.optional(),
});

/** The file as zod reads it, before the few merges parse.ts makes. */
export type RawAppConfig = z.output<typeof appConfigSchema>;
