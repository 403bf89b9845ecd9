import { join } from 'node:path';
import { AloftError } from '../lib/errors.ts';
import { DEFAULT_GUEST, type Machine } from '../model/index.ts';
import type { ImageConfig } from '../image/types.ts';
import type { RunSpec, VolumeMount } from '../runtime/driver.ts';
import type { ResolvedUser } from '../image/index.ts';
import { DNS_PRIVATE_ADDRESS } from '../dns/server.ts';

/**
 * The command a Machine runs, with Docker's override rules: `init.exec` replaces
 * everything; `init.entrypoint` replaces the image's entrypoint and drops its cmd;
 * `init.cmd` replaces the cmd.
 */
export function machineArgs(machine: Machine, image: ImageConfig): string[] {
  const init = machine.config.init ?? {};
  if (init.exec && init.exec.length > 0) return init.exec;
  const entrypoint = init.entrypoint ?? image.entrypoint;
  const cmd = init.cmd ?? (init.entrypoint ? [] : image.cmd);
  const args = [...entrypoint, ...cmd];
  if (args.length === 0) {
    throw new AloftError(
      'INVALID_ARGUMENT',
      `Cannot start machine ${machine.id} as the image or 'config.init' must give a command: got no entrypoint, cmd or exec`,
    );
  }
  return args;
}

/**
 * The environment Fly gives every Machine (PLATFORM.md): the image's, then the config's,
 * then the app's `secrets` (secrets win over env, as on Fly), then the platform's FLY_*
 * variables, which nothing overrides.
 */
export function machineEnv(machine: Machine, image: ImageConfig, secrets: Readonly<Record<string, string>> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const entry of image.env) {
    const eq = entry.indexOf('=');
    if (eq > 0) env[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  Object.assign(env, machine.config.env ?? {});
  Object.assign(env, secrets);
  const memory = machine.config.guest?.memory_mb ?? DEFAULT_GUEST.memory_mb;
  const ref = machine.imageRef;
  Object.assign(env, {
    FLY_APP_NAME: machine.appName,
    FLY_MACHINE_ID: machine.id,
    FLY_ALLOC_ID: machine.id,
    FLY_REGION: machine.region,
    FLY_PUBLIC_IP: '',
    FLY_IMAGE_REF: `${ref.repository}:${ref.tag}@${ref.digest}`,
    FLY_MACHINE_VERSION: machine.instanceId,
    FLY_PRIVATE_IP: machine.addresses?.ipv6 ?? '',
    FLY_PROCESS_GROUP: machine.config.metadata?.['fly_process_group'] ?? 'app',
    FLY_VM_MEMORY_MB: String(memory),
  });
  env['PRIMARY_REGION'] ??= machine.region;
  env['PATH'] ??= '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
  return env;
}

/** /etc/hosts as Fly writes it: localhost, the machine's id, and `fly-local-6pn`. */
export function hostsFile(machine: Machine): string {
  const lines = ['127.0.0.1\tlocalhost', '::1\tlocalhost ip6-localhost ip6-loopback'];
  if (machine.addresses) {
    lines.push(`${machine.addresses.ipv6}\tfly-local-6pn`, `${machine.addresses.ipv6}\t${machine.id}`);
    lines.push(`${machine.addresses.ipv4}\t${machine.id}`);
  }
  return `${lines.join('\n')}\n`;
}

/**
 * /etc/resolv.conf as Fly writes it: the host's private resolver (fdaa::3) answers
 * `<app>.internal` for the Machine's own org and forwards other names upstream.
 */
export function resolvConf(): string {
  return `nameserver ${DNS_PRIVATE_ADDRESS}\n`;
}

/** Everything the driver needs to run `machine` from its prepared root. */
export function buildRunSpec(options: {
  machine: Machine;
  image: ImageConfig;
  user: ResolvedUser;
  rootfs: string;
  machineDir: string;
  netnsPath: string | null;
  /** The Machine's volumes, loop-mounted on the host (MachineVolumes.attach). */
  mounts?: VolumeMount[];
  /** The image's cached ext4 root (AgentImages.ext4Image), for drivers that boot a disk. */
  rootDisk?: string;
  /** The app's secrets, opened (MachineSecrets.envFor). */
  secrets?: Readonly<Record<string, string>>;
}): RunSpec {
  const { machine, image } = options;
  const guest = machine.config.guest ?? {};
  return {
    machineId: machine.id,
    ...(guest.driver ? { driver: guest.driver } : {}),
    rootfs: options.rootfs,
    ...(options.rootDisk ? { rootDisk: options.rootDisk } : {}),
    workDir: join(options.machineDir, 'run'),
    hostname: machine.id,
    process: {
      args: machineArgs(machine, image),
      env: machineEnv(machine, image, options.secrets),
      cwd: image.workingDir || '/',
      uid: options.user.uid,
      gid: options.user.gid,
      additionalGids: options.user.additionalGids,
    },
    limits: { cpus: guest.cpus ?? DEFAULT_GUEST.cpus, memoryMb: guest.memory_mb ?? DEFAULT_GUEST.memory_mb },
    netnsPath: options.netnsPath,
    files: [
      { path: '/etc/hosts', content: hostsFile(machine) },
      { path: '/etc/resolv.conf', content: resolvConf() },
    ],
    logPath: join(options.machineDir, 'machine.log'),
    ...(options.mounts && options.mounts.length > 0 ? { mounts: options.mounts } : {}),
  };
}
