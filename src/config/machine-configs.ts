import { AloftError, formatValue } from '../lib/errors.ts';
import { DEFAULT_GUEST, machineConfigSchema, type MachineConfig, type MachineGuest, type MachineService } from '../model/index.ts';
import type { AppConfig } from './app-config.ts';
import { splitShellWords } from './shell-words.ts';
import { sizeNameFor, VM_SIZES } from './vm-sizes.ts';

/** One process group's Machine config. */
export interface GroupMachineConfig {
  /** The process group ("app" when the config has no [processes]). */
  processGroup: string;
  config: MachineConfig;
}

export interface MachineConfigOptions {
  /** The image the Machines run; default `[build] image`. */
  image?: string;
}

/** The group name Fly uses when a config has no [processes]. */
export const DEFAULT_PROCESS_GROUP = 'app';

type HttpCheck = NonNullable<NonNullable<AppConfig['http_service']>['checks']>[number];
type Check = NonNullable<MachineService['checks']>[number] & Record<string, unknown>;

/**
 * The Machine config(s) an app config produces, one per process group, as flyctl
 * builds them: `init.cmd` from the group's command, the services and checks, mount,
 * guest, restart policy, metrics and files whose `processes` list the group (or that
 * name none), env, stop_config from kill_signal/kill_timeout, and
 * `metadata.fly_process_group`. Each result is checked against machineConfigSchema.
 */
export function machineConfigsFor(config: AppConfig, options: MachineConfigOptions = {}): GroupMachineConfig[] {
  const image = options.image ?? config.build?.image;
  if (!image) {
    throw new AloftError('CONFIG_INVALID', "Cannot make Machine configs as 'build.image' must be set, or an image given: got nothing");
  }
  const groups = Object.keys(config.processes ?? {});
  return (groups.length > 0 ? groups : [DEFAULT_PROCESS_GROUP]).map((group) => ({ processGroup: group, config: forGroup(config, group, image) }));
}

/** True when an entry with this `processes` list applies to the group. */
function appliesTo(processes: readonly string[] | undefined, group: string): boolean {
  return processes === undefined || processes.length === 0 || processes.includes(group);
}

function forGroup(config: AppConfig, group: string, image: string): MachineConfig {
  const out: MachineConfig = { image };
  if (config.env && Object.keys(config.env).length > 0) out.env = { ...config.env };

  const init = initFor(config, group);
  if (Object.keys(init).length > 0) out.init = init;
  out.guest = guestFor(config, group);

  const services = servicesFor(config, group);
  if (services.length > 0) out.services = services;

  const checks = Object.entries(config.checks ?? {}).filter(([, c]) => c.type !== 'script' && appliesTo(c.processes, group));
  // A check without a type is an HTTP check when it names a path, else a TCP one.
  const typeOf = (c: (typeof checks)[number][1]): 'tcp' | 'http' => (c.type === 'tcp' || c.type === 'http' ? c.type : c.path !== undefined ? 'http' : 'tcp');
  if (checks.length > 0) out.checks = Object.fromEntries(checks.map(([name, c]) => [name, machineCheck(c, typeOf(c))]));

  const restart = (config.restart ?? []).filter((r) => appliesTo(r.processes, group)).at(-1);
  if (restart && (restart.policy !== undefined || restart.max_retries !== undefined)) {
    out.restart = {
      ...(restart.policy !== undefined ? { policy: restart.policy === 'never' ? 'no' : restart.policy } : {}),
      ...(restart.max_retries !== undefined ? { max_retries: restart.max_retries } : {}),
    };
  }

  if (config.kill_signal !== undefined || config.kill_timeout !== undefined) {
    out.stop_config = {
      ...(config.kill_signal !== undefined ? { signal: config.kill_signal } : {}),
      ...(config.kill_timeout !== undefined ? { timeout: goDuration(config.kill_timeout) } : {}),
    };
  }

  const mounts = (config.mounts ?? []).filter((m) => appliesTo(m.processes, group));
  if (mounts.length > 1) {
    throw new AloftError('CONFIG_INVALID', `Cannot make Machine configs as 'mounts' must give at most one mount to process group '${group}' (a Machine has one volume): got ${formatValue(mounts.map((m) => m.destination))}`);
  }
  if (mounts[0]) out.mounts = [{ path: mounts[0].destination, name: mounts[0].source }];

  const metrics = (config.metrics ?? []).filter((m) => appliesTo(m.processes, group))[0];
  if (metrics) out['metrics'] = { port: metrics.port, path: metrics.path, ...(metrics.https !== undefined ? { https: metrics.https } : {}) };

  if (config.statics && config.statics.length > 0) out['statics'] = config.statics.map((s) => ({ ...s }));

  const files = (config.files ?? []).filter((f) => appliesTo(f.processes, group)).map(({ processes: _, ...f }) => f);
  if (files.length > 0) out.files = files;

  out.metadata = { fly_process_group: group };

  const checked = machineConfigSchema.safeParse(out);
  if (!checked.success) {
    const issue = checked.error.issues[0]!;
    throw new AloftError('CONFIG_INVALID', `Cannot make the Machine config of process group '${group}' as '${issue.path.join('.')}' must be ${issue.message}`);
  }
  return checked.data;
}

function initFor(config: AppConfig, group: string): NonNullable<MachineConfig['init']> {
  const init: NonNullable<MachineConfig['init']> = {};
  const command = config.processes?.[group];
  if (command !== undefined) {
    const argv = splitShellWords(command);
    if (!argv || argv.length === 0) {
      throw new AloftError('CONFIG_INVALID', `Cannot make Machine configs as 'processes.${group}' must be a command with balanced quotes: got ${formatValue(command)}`);
    }
    init.cmd = argv;
  } else if (config.experimental?.cmd) {
    init.cmd = [...config.experimental.cmd];
  }
  if (config.experimental?.entrypoint) init.entrypoint = [...config.experimental.entrypoint];
  if (config.experimental?.exec) init.exec = [...config.experimental.exec];
  if (config.swap_size_mb !== undefined) init.swap_size_mb = config.swap_size_mb;
  return init;
}

/**
 * The guest: the default size (shared-cpu-1x), or `size`, or the size named by
 * cpu_kind and cpus; then `memory`, `cpus`, `cpu_kind`, GPUs over it. Later [[vm]]
 * sections that apply to the group win.
 */
function guestFor(config: AppConfig, group: string): MachineGuest {
  const guest: MachineGuest = { ...DEFAULT_GUEST };
  for (const vm of (config.vm ?? []).filter((v) => appliesTo(v.processes, group))) {
    // Without a size, cpu_kind and cpus name one (performance + 2 → performance-2x) for its memory.
    const named = vm.cpu_kind !== undefined || vm.cpus !== undefined ? sizeNameFor(vm.cpu_kind ?? guest.cpu_kind ?? 'shared', vm.cpus ?? guest.cpus ?? 1) : undefined;
    const name = vm.size ?? named;
    if (name !== undefined) {
      const preset = VM_SIZES[name];
      if (!preset && vm.size !== undefined) {
        throw new AloftError('CONFIG_INVALID', `Cannot make Machine configs as 'vm.size' must be one of ${Object.keys(VM_SIZES).join(', ')}: got ${formatValue(vm.size)}`);
      }
      if (preset) Object.assign(guest, preset);
    }
    if (vm.cpu_kind !== undefined) guest.cpu_kind = vm.cpu_kind;
    if (vm.cpus !== undefined) guest.cpus = vm.cpus;
    const memory = vm.memory_mb ?? vm.memory;
    if (memory !== undefined) guest.memory_mb = memory;
    if (vm.gpu_kind !== undefined) guest.gpu_kind = vm.gpu_kind;
    if (vm.gpus !== undefined) guest.gpus = vm.gpus;
    if (vm.kernel_args !== undefined) guest.kernel_args = [...vm.kernel_args];
    if (vm.host_dedication_id !== undefined) guest['host_dedication_id'] = vm.host_dedication_id;
  }
  // A GPU kind without a count means one GPU, as Fly reads it.
  if (guest.gpu_kind !== undefined && guest.gpus === undefined) guest.gpus = 1;
  return guest;
}

function servicesFor(config: AppConfig, group: string): MachineService[] {
  const out: MachineService[] = [];
  const http = config.http_service;
  if (http && appliesTo(http.processes, group)) {
    // Fly's http_service: port 80 speaking HTTP (redirecting to HTTPS when force_https), and 443 with TLS then HTTP.
    const httpOptions = http.http_options ? { http_options: { ...http.http_options } } : {};
    out.push({
      protocol: 'tcp',
      internal_port: http.internal_port,
      ports: [
        { port: 80, handlers: ['http'], ...(http.force_https ? { force_https: true } : {}), ...httpOptions },
        { port: 443, handlers: ['tls', 'http'], ...(http.tls_options ? { tls_options: { ...http.tls_options } } : {}), ...httpOptions },
      ],
      ...(http.concurrency ? { concurrency: { ...http.concurrency } } : {}),
      ...(http.checks && http.checks.length > 0 ? { checks: http.checks.map((c) => machineCheck(c, 'http')) } : {}),
      ...autoscaleOf(http),
    });
  }
  for (const service of config.services ?? []) {
    if (!appliesTo(service.processes, group)) continue;
    const checks = [...(service.tcp_checks ?? []).map((c) => machineCheck(c, 'tcp')), ...(service.http_checks ?? []).map((c) => machineCheck(c, 'http'))];
    out.push({
      protocol: service.protocol ?? 'tcp',
      internal_port: service.internal_port,
      ...(service.ports ? { ports: service.ports.map((p) => ({ ...p })) } : {}),
      ...(service.concurrency ? { concurrency: { ...service.concurrency } } : {}),
      ...(checks.length > 0 ? { checks } : {}),
      ...autoscaleOf(service),
    });
  }
  return out;
}

function autoscaleOf(s: { auto_stop_machines?: 'off' | 'stop' | 'suspend' | undefined; auto_start_machines?: boolean | undefined; min_machines_running?: number | undefined }): Partial<MachineService> {
  return {
    ...(s.auto_stop_machines !== undefined ? { autostop: s.auto_stop_machines } : {}),
    ...(s.auto_start_machines !== undefined ? { autostart: s.auto_start_machines } : {}),
    ...(s.min_machines_running !== undefined ? { min_machines_running: s.min_machines_running } : {}),
  };
}

/** A fly.toml check as the Machines API's check: durations as Go strings, headers as name/values pairs. */
function machineCheck(c: HttpCheck, type: 'tcp' | 'http'): Check {
  const check: Check = { type };
  if (c.port !== undefined) check.port = c.port;
  if (c.interval !== undefined) check.interval = goDuration(c.interval);
  if (c.timeout !== undefined) check.timeout = goDuration(c.timeout);
  if (c.grace_period !== undefined) check.grace_period = goDuration(c.grace_period);
  if (type === 'http') {
    if (c.method !== undefined) check.method = c.method;
    if (c.path !== undefined) check.path = c.path;
    if (c.protocol !== undefined) check['protocol'] = c.protocol;
    if (c.tls_skip_verify !== undefined) check['tls_skip_verify'] = c.tls_skip_verify;
    if (c.tls_server_name !== undefined) check['tls_server_name'] = c.tls_server_name;
    if (c.headers && Object.keys(c.headers).length > 0) check['headers'] = Object.entries(c.headers).map(([name, values]) => ({ name, values }));
  }
  return check;
}

/** Milliseconds as a Go duration string: whole seconds as "15s", else "1500ms". */
export function goDuration(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}
