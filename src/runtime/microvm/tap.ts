import { readFile, rename, writeFile } from 'node:fs/promises';
import { execCommand, mustRun, type CommandOptions, type CommandRunner } from '../../lib/command.ts';
import { invalidField } from '../../lib/errors.ts';

/** What the guest must configure on its eth0 to be the Machine on the network. */
export interface GuestNetwork {
  /** The tap device in the Machine's netns that QEMU opens. */
  tap: string;
  /** The guest NIC's MAC, derived from the Machine's IPv4 (unique per host). */
  mac: string;
  /** `IP/PREFIX`, exactly as the netns's eth0 held them. */
  addresses: string[];
  /** `default` (or a CIDR) via a gateway, as the netns's eth0 had them. */
  routes: { destination: string; gateway: string }[];
}

/** Options of {@link attachTap}. */
export interface TapOptions {
  /** Tap device name (default "tap0"): the netns is the Machine's own, so it never clashes. */
  tap?: string;
  /** Bridge inside the netns joining eth0 and the tap (default "br0"). */
  bridge?: string;
  /** Where the Machine's addresses are kept once moved into the guest (a file in its workDir). */
  stateFile: string;
  run?: CommandRunner;
}

const IP: CommandOptions = { timeoutMs: 15_000, errorCode: 'NETWORK_FAILED' };
const IFNAME = /^[A-Za-z0-9_.-]{1,15}$/;
const GONE = /Cannot find device|does not exist|No such device/;

/**
 * Puts a microVM where the `oci` driver puts a container. The host network
 * (src/net/linux-host-network.ts) made the Machine's netns with `eth0`, a veth on the
 * host bridge holding the Machine's IPv4 and 6PN addresses and default routes. A VM's
 * addresses must live in the guest, so this moves them: it records eth0's addresses
 * and gateway routes, bridges eth0 with a new tap inside the netns (`br0`), and removes
 * the addresses from eth0. The guest configures the same addresses and routes on its
 * NIC, so it answers at the very IPs an `oci` Machine would, with the same gateways.
 *
 * Idempotent: on a second call (agent restart, VM restart) eth0 has no addresses left,
 * and the recorded ones in `stateFile` are used.
 */
export async function attachTap(netnsPath: string, options: TapOptions): Promise<GuestNetwork> {
  const tap = options.tap ?? 'tap0';
  const bridge = options.bridge ?? 'br0';
  checkNames(tap, bridge);
  const ip = netnsIp(options.run ?? execCommand, netnsPath);
  const links = await linkNames(ip);
  if (!links.includes('eth0')) throw invalidField('attach VM network', 'netnsPath', 'a Machine netns holding eth0', netnsPath);

  const current = await readEth0(ip);
  let saved: Omit<GuestNetwork, 'tap'>;
  if (current.addresses.length > 0) {
    const ipv4 = current.addresses.find((a) => !a.includes(':'));
    saved = { ...current, mac: macFor(ipv4 ?? current.addresses[0]!) };
    await writeFile(`${options.stateFile}.tmp`, `${JSON.stringify(saved)}\n`, { mode: 0o600 });
    await rename(`${options.stateFile}.tmp`, options.stateFile);
  } else {
    const text = await readFile(options.stateFile, 'utf8').catch(() => null);
    if (text === null) throw invalidField('attach VM network', 'netnsPath', 'a netns whose eth0 has addresses (or a saved record of them)', netnsPath);
    saved = JSON.parse(text) as Omit<GuestNetwork, 'tap'>;
  }

  if (!links.includes(tap)) await ip(['tuntap', 'add', 'dev', tap, 'mode', 'tap']);
  if (!links.includes(bridge)) await ip(['link', 'add', bridge, 'type', 'bridge']);
  await ip(['link', 'set', 'eth0', 'master', bridge]);
  await ip(['link', 'set', tap, 'master', bridge]);
  // The addresses now belong to the guest; on eth0 they would answer in its place.
  await ip(['addr', 'flush', 'dev', 'eth0', 'scope', 'global']);
  for (const dev of [bridge, tap, 'eth0']) await ip(['link', 'set', dev, 'up']);
  return { tap, ...saved };
}

/**
 * Undoes {@link attachTap} by name: deletes the tap and the bridge and gives eth0 its
 * addresses and routes back (so the netns is as the host network made it). Idempotent.
 */
export async function detachTap(netnsPath: string, options: TapOptions): Promise<void> {
  const tap = options.tap ?? 'tap0';
  const bridge = options.bridge ?? 'br0';
  checkNames(tap, bridge);
  const ip = netnsIp(options.run ?? execCommand, netnsPath);
  for (const dev of [tap, bridge]) {
    await ip(['link', 'del', dev]).catch((err: unknown) => {
      if (!GONE.test(String((err as { details?: { stderr?: unknown } }).details?.stderr))) throw err;
    });
  }
  const text = await readFile(options.stateFile, 'utf8').catch(() => null);
  if (text === null) return;
  const saved = JSON.parse(text) as Omit<GuestNetwork, 'tap'>;
  for (const address of saved.addresses) {
    await ip(['addr', 'replace', address, 'dev', 'eth0', ...(address.includes(':') ? ['nodad'] : [])]);
  }
  for (const route of saved.routes) {
    await ip([route.gateway.includes(':') ? '-6' : '-4', 'route', 'replace', route.destination, 'via', route.gateway, 'dev', 'eth0']);
  }
}

/** A locally administered MAC from an IPv4 (02:00:a:b:c:d); from an IPv6, its last 4 bytes. */
export function macFor(address: string): string {
  const ip = address.split('/')[0]!;
  let bytes: number[];
  if (ip.includes(':')) {
    const groups = ip.split(':').slice(-2).map((g) => parseInt(g || '0', 16));
    bytes = groups.flatMap((g) => [g >> 8, g & 0xff]);
  } else bytes = ip.split('.').map(Number);
  return ['02', '00', ...bytes.map((b) => b.toString(16).padStart(2, '0'))].join(':');
}

function checkNames(tap: string, bridge: string): void {
  if (!IFNAME.test(tap)) throw invalidField('attach VM network', 'tap', 'an interface name of 1 to 15 of [A-Za-z0-9_.-]', tap);
  if (!IFNAME.test(bridge)) throw invalidField('attach VM network', 'bridge', 'an interface name of 1 to 15 of [A-Za-z0-9_.-]', bridge);
}

type Ip = (args: string[]) => Promise<string>;

function netnsIp(run: CommandRunner, netnsPath: string): Ip {
  if (!netnsPath.startsWith('/')) throw invalidField('attach VM network', 'netnsPath', 'an absolute path', netnsPath);
  return (args) => mustRun(run, 'nsenter', [`--net=${netnsPath}`, 'ip', ...args], IP);
}

async function linkNames(ip: Ip): Promise<string[]> {
  const links = JSON.parse((await ip(['-j', 'link', 'show'])) || '[]') as { ifname?: string }[];
  return links.map((l) => l.ifname ?? '');
}

/** eth0's global addresses and its routes through a gateway. */
async function readEth0(ip: Ip): Promise<{ addresses: string[]; routes: GuestNetwork['routes'] }> {
  type AddrJson = { addr_info?: { local?: string; prefixlen?: number; scope?: string }[] }[];
  const addrs = JSON.parse((await ip(['-j', 'addr', 'show', 'dev', 'eth0'])) || '[]') as AddrJson;
  const addresses = addrs
    .flatMap((link) => link.addr_info ?? [])
    .filter((info) => info.scope === 'global' && info.local !== undefined && info.prefixlen !== undefined)
    .map((info) => `${info.local}/${info.prefixlen}`);
  const routes: GuestNetwork['routes'] = [];
  for (const family of ['-4', '-6']) {
    const list = JSON.parse((await ip(['-j', family, 'route', 'show', 'dev', 'eth0'])) || '[]') as { dst?: string; gateway?: string }[];
    for (const route of list) if (route.dst !== undefined && route.gateway !== undefined) routes.push({ destination: route.dst, gateway: route.gateway });
  }
  return { addresses, routes };
}
