/**
 * The run config: what aloft-init needs to start a Machine's process (like Fly's
 * /fly/run.json). The host renders it as `/aloft/run.conf`, one `key=value` token per
 * line with the value percent-encoded (line-codec.ts), because a C init reads that
 * without a JSON parser. It reaches the guest as a small cpio appended to the shared
 * initramfs (`runConfigCpio`), so the cached initramfs never changes per Machine.
 *
 * Keys (repeatable ones marked *): hostname, uid, gid, groups (comma list), workdir,
 * arg*, env* (`K=V`), addr* (`IP/PREFIX` on eth0), route* (`DEST<TAB>GATEWAY`, DEST may be
 * `default`), nameserver*, search*, host* (an /etc/hosts line), mount*
 * (`SOURCE<TAB>FSTYPE<TAB>PATH`; SOURCE is `/dev/vdX` or `serial:NAME` for the virtio-blk
 * disk with that `serial=`), mtu, memory_mb and pids_max (the Machine's limits, set on
 * the guest cgroup its processes run in).
 */
import { invalidField } from '../lib/errors.ts';
import { writeCpio } from './cpio.ts';
import { decodeValue, encodeValue } from './line-codec.ts';

/** Path of the config inside the guest (in the initramfs, outside the image root). */
export const RUN_CONFIG_PATH = '/aloft/run.conf';

/** A volume (or any block device) mounted into the image root. */
export interface GuestMount {
  /** `/dev/vdb`, or `serial:NAME` for the disk given `-device virtio-blk-device,serial=NAME`. */
  source: string;
  /** Filesystem type, e.g. `ext4`. */
  fstype: string;
  /** Absolute path inside the image root. */
  path: string;
}

/** One route through eth0. */
export interface GuestRoute {
  /** `default` or a CIDR. */
  destination: string;
  gateway: string;
}

/** Everything aloft-init reads at boot. */
export interface RunConfig {
  hostname: string;
  /** The program and its arguments (entrypoint + cmd, already merged with overrides). */
  args: string[];
  env: Record<string, string>;
  uid: number;
  gid: number;
  /** Supplementary groups. */
  groups?: number[];
  workdir: string;
  /** `IP/PREFIX` addresses for eth0 (IPv4 or IPv6). */
  addresses?: string[];
  routes?: GuestRoute[];
  mtu?: number;
  nameservers?: string[];
  search?: string[];
  /** The Machine's private (6PN) IP: /etc/hosts maps it to `fly-local-6pn` and the hostname. */
  privateIp?: string;
  /** Extra /etc/hosts lines as [ip, names…]. */
  hosts?: Array<[string, ...string[]]>;
  mounts?: GuestMount[];
  /** The Machine's memory limit: the guest cgroup's memory.max (the VM itself has a little more). */
  memoryMb?: number;
  /** The Machine's pids limit: the guest cgroup's pids.max. */
  pidsMax?: number;
}

const ACTION = 'write guest run config';
const HOSTNAME = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

function noControl(field: string, value: string, extra = ''): void {
  // Tabs separate sub-fields and NUL ends C strings: neither may appear inside one.
  if (/[\0\t\n]/.test(value)) throw invalidField(ACTION, field, `text without tab, newline or NUL${extra}`, value);
}

function uint(field: string, value: number): void {
  if (!Number.isInteger(value) || value < 0 || value > 0xfffffffe) throw invalidField(ACTION, field, 'an integer from 0 to 4294967294', value);
}

function absolute(field: string, value: string): void {
  if (!value.startsWith('/')) throw invalidField(ACTION, field, 'an absolute path', value);
  noControl(field, value);
}

/** Renders a run config as the text of /aloft/run.conf. Throws INVALID_ARGUMENT (naming the field) on bad input. */
export function encodeRunConfig(config: RunConfig): string {
  const lines: string[] = [];
  const put = (key: string, value: string | number): void => {
    lines.push(`${key}=${encodeValue(String(value))}`);
  };
  if (!HOSTNAME.test(config.hostname)) throw invalidField(ACTION, 'hostname', 'a DNS label (letters, digits, "-", at most 63)', config.hostname);
  put('hostname', config.hostname);
  if (config.args.length === 0) throw invalidField(ACTION, 'args', 'a non-empty list', config.args);
  uint('uid', config.uid);
  uint('gid', config.gid);
  put('uid', config.uid);
  put('gid', config.gid);
  if (config.groups !== undefined && config.groups.length > 0) {
    config.groups.forEach((g) => uint('groups', g));
    put('groups', config.groups.join(','));
  }
  absolute('workdir', config.workdir);
  put('workdir', config.workdir);
  for (const arg of config.args) {
    if (arg.includes('\0')) throw invalidField(ACTION, 'args', 'strings without NUL', arg);
    put('arg', arg);
  }
  for (const [key, value] of Object.entries(config.env)) {
    if (!/^[^=\0]+$/.test(key) || value.includes('\0')) throw invalidField(ACTION, 'env', 'names without "=" or NUL and values without NUL', key);
    put('env', `${key}=${value}`);
  }
  for (const addr of config.addresses ?? []) {
    if (!/^[0-9a-fA-F.:]+\/\d{1,3}$/.test(addr)) throw invalidField(ACTION, 'addresses', 'IP/PREFIX', addr);
    put('addr', addr);
  }
  for (const route of config.routes ?? []) {
    if (!/^(default|[0-9a-fA-F.:]+\/\d{1,3})$/.test(route.destination)) throw invalidField(ACTION, 'routes.destination', '"default" or a CIDR', route.destination);
    if (!/^[0-9a-fA-F.:]+$/.test(route.gateway)) throw invalidField(ACTION, 'routes.gateway', 'an IP address', route.gateway);
    put('route', `${route.destination}\t${route.gateway}`);
  }
  if (config.mtu !== undefined) {
    if (!Number.isInteger(config.mtu) || config.mtu < 576 || config.mtu > 65535) throw invalidField(ACTION, 'mtu', 'an integer from 576 to 65535', config.mtu);
    put('mtu', config.mtu);
  }
  if (config.memoryMb !== undefined) {
    if (!Number.isInteger(config.memoryMb) || config.memoryMb < 1) throw invalidField(ACTION, 'memoryMb', 'a positive integer', config.memoryMb);
    put('memory_mb', config.memoryMb);
  }
  if (config.pidsMax !== undefined) {
    if (!Number.isInteger(config.pidsMax) || config.pidsMax < 1) throw invalidField(ACTION, 'pidsMax', 'a positive integer', config.pidsMax);
    put('pids_max', config.pidsMax);
  }
  for (const ns of config.nameservers ?? []) {
    if (!/^[0-9a-fA-F.:]+$/.test(ns)) throw invalidField(ACTION, 'nameservers', 'IP addresses', ns);
    put('nameserver', ns);
  }
  for (const s of config.search ?? []) {
    if (!/^[A-Za-z0-9.-]+$/.test(s)) throw invalidField(ACTION, 'search', 'domain names', s);
    put('search', s);
  }
  const hosts: string[][] = [];
  if (config.privateIp !== undefined) hosts.push([config.privateIp, 'fly-local-6pn', config.hostname]);
  for (const entry of config.hosts ?? []) hosts.push(entry);
  for (const entry of hosts) {
    if (entry.length < 2 || !entry.every((w) => /^[A-Za-z0-9.:_-]+$/.test(w))) throw invalidField(ACTION, 'hosts', 'an IP then names', entry);
    put('host', entry.join(' '));
  }
  for (const [i, m] of (config.mounts ?? []).entries()) {
    if (!/^(\/dev\/[A-Za-z0-9]+|serial:[A-Za-z0-9_.-]{1,20})$/.test(m.source)) throw invalidField(ACTION, `mounts[${i}].source`, '/dev/NAME or serial:NAME (at most 20)', m.source);
    if (!/^[a-z0-9]+$/.test(m.fstype)) throw invalidField(ACTION, `mounts[${i}].fstype`, 'a filesystem type', m.fstype);
    absolute(`mounts[${i}].path`, m.path);
    if (m.path.split('/').includes('..')) throw invalidField(ACTION, `mounts[${i}].path`, 'a path without ".."', m.path);
    put('mount', `${m.source}\t${m.fstype}\t${m.path}`);
  }
  return `${lines.join('\n')}\n`;
}

/** Reads run.conf text back into key/value pairs, in order (what aloft-init does; used by tests and tools). */
export function decodeRunConfigLines(text: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    out.push([line.slice(0, eq), decodeValue(line.slice(eq + 1))]);
  }
  return out;
}

/**
 * The run config as a tiny uncompressed cpio holding /aloft/run.conf. Append it to the
 * cached initramfs (`cat initramfs.gz conf.cpio > machine.initrd`): the kernel unpacks
 * concatenated archives in order, so this file lands beside the shared ones.
 */
export function runConfigCpio(config: RunConfig): Buffer {
  return writeCpio([
    { type: 'dir', path: 'aloft', mode: 0o755 },
    { type: 'file', path: RUN_CONFIG_PATH, data: Buffer.from(encodeRunConfig(config), 'utf8'), mode: 0o600 },
  ]);
}
