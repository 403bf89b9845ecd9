import { readFile, writeFile } from 'node:fs/promises';
import { mustRun, type CommandOptions, type CommandRunner } from '../lib/command.ts';

/** eth0's global addresses and gateway routes, as saved between runs. */
export interface Eth0Snapshot {
  addresses: { family: 'inet' | 'inet6'; local: string; prefixlen: number }[];
  /** `mtu`: the route's own MTU, when it has one (6PN beyond the host: the tunnel's 1420). */
  routes: { family: 'inet' | 'inet6'; dst: string; gateway: string; mtu?: number }[];
}

const IP_COMMAND: CommandOptions = { timeoutMs: 10_000, errorCode: 'RUNTIME_FAILED' };

/**
 * runsc's sandbox network takes eth0 over and strips its addresses and IPv4 routes from
 * the netns (HOST.md); a second run on the same netns would then start without a
 * network. So before each runsc run: when eth0 has its addresses, save them (and the
 * gateway routes) to `snapshotFile`; when they are gone, put the saved ones back.
 * A netns without eth0 is left alone.
 */
export async function saveOrRestoreEth0(run: CommandRunner, netnsPath: string, snapshotFile: string): Promise<void> {
  const ip = (args: string[]): Promise<string> => mustRun(run, 'nsenter', [`--net=${netnsPath}`, 'ip', ...args], IP_COMMAND);
  const links = JSON.parse((await ip(['-j', 'link', 'show'])) || '[]') as { ifname?: string }[];
  if (!links.some((link) => link.ifname === 'eth0')) return;
  const current = await readEth0(ip);
  if (current.addresses.length > 0) {
    await writeFile(snapshotFile, `${JSON.stringify(current)}\n`, { mode: 0o600 });
    return;
  }
  const saved = await readSnapshot(snapshotFile);
  if (saved === null) return;
  for (const address of saved.addresses) {
    const extra = address.family === 'inet6' ? ['nodad'] : [];
    await ip(['addr', 'replace', `${address.local}/${address.prefixlen}`, 'dev', 'eth0', ...extra]);
  }
  await ip(['link', 'set', 'eth0', 'up']);
  for (const route of saved.routes) {
    const family = route.family === 'inet6' ? ['-6'] : ['-4'];
    const mtu = route.mtu === undefined ? [] : ['mtu', String(route.mtu)];
    await ip([...family, 'route', 'replace', route.dst, 'via', route.gateway, 'dev', 'eth0', ...mtu]);
  }
}

/** Reads eth0's global addresses and its routes through a gateway. */
async function readEth0(ip: (args: string[]) => Promise<string>): Promise<Eth0Snapshot> {
  type AddrJson = { addr_info?: { family?: string; local?: string; prefixlen?: number; scope?: string }[] }[];
  type RouteJson = { dst?: string; gateway?: string; metrics?: { mtu?: number }[] }[];
  const links = JSON.parse((await ip(['-j', 'addr', 'show', 'dev', 'eth0'])) || '[]') as AddrJson;
  const addresses: Eth0Snapshot['addresses'] = [];
  for (const info of links.flatMap((link) => link.addr_info ?? [])) {
    if (info.scope !== 'global' || info.local === undefined || info.prefixlen === undefined) continue;
    if (info.family !== 'inet' && info.family !== 'inet6') continue;
    addresses.push({ family: info.family, local: info.local, prefixlen: info.prefixlen });
  }
  const routes: Eth0Snapshot['routes'] = [];
  for (const family of ['inet', 'inet6'] as const) {
    const flag = family === 'inet' ? '-4' : '-6';
    const list = JSON.parse((await ip(['-j', flag, 'route', 'show', 'dev', 'eth0'])) || '[]') as RouteJson;
    for (const route of list) {
      if (route.dst === undefined || route.gateway === undefined) continue;
      const mtu = route.metrics?.find((metric) => metric.mtu !== undefined)?.mtu;
      routes.push({ family, dst: route.dst, gateway: route.gateway, ...(mtu === undefined ? {} : { mtu }) });
    }
  }
  return { addresses, routes };
}

async function readSnapshot(path: string): Promise<Eth0Snapshot | null> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as Eth0Snapshot;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}
