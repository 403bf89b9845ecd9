import { execCommand, mustRun } from '../lib/command.ts';
import { AloftError } from '../lib/errors.ts';
import type { Attachment, LabPlan, RegionPlan } from './lab-plan.ts';

const OPTS = { timeoutMs: 15_000, errorCode: 'LAB_FAILED' } as const;

/** `ip args…` (LAB_FAILED with ip's words when it refuses). */
export function ip(...args: string[]): Promise<string> {
  return mustRun(execCommand, 'ip', args, OPTS);
}

/** Runs a program inside a namespace. */
export function inNetns(ns: string, file: string, ...args: string[]): Promise<string> {
  return mustRun(execCommand, 'ip', ['netns', 'exec', ns, file, ...args], OPTS);
}

/** The namespaces that exist now whose names start with `prefix`. */
export async function namespacesWithPrefix(prefix: string): Promise<string[]> {
  const out = await ip('netns', 'list');
  return out
    .split('\n')
    .map((line) => line.split(' ')[0] ?? '')
    .filter((name) => name.startsWith(prefix));
}

/**
 * Creates a namespace with `lo` up. Routers forward; nothing does IPv6 duplicate
 * address detection (a lab address is unique by plan, and DAD would hold every address
 * back ~1 s); reverse-path filtering is off, as routes are asymmetric while they converge.
 */
export async function createNamespace(ns: string, router: boolean): Promise<void> {
  await ip('netns', 'add', ns);
  await ip('-n', ns, 'link', 'set', 'lo', 'up');
  const settings = [
    'net.ipv6.conf.all.accept_dad=0',
    'net.ipv6.conf.default.accept_dad=0',
    'net.ipv4.conf.all.rp_filter=0',
    'net.ipv4.conf.default.rp_filter=0',
    ...(router ? ['net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1'] : []),
  ];
  await inNetns(ns, 'sysctl', '-q', '-w', ...settings);
}

/** Hangs a namespace off its region's router: veth `eth0` ↔ router's `<routerIf>`, addresses, default routes. */
export async function attach(region: RegionPlan, a: Attachment): Promise<void> {
  // Made inside the namespace and the peer moved straight to the router: no name ever lives in the root namespace.
  await ip('-n', a.ns, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', a.routerIf, 'netns', region.routerNs);
  const { ipv4, ipv6 } = a.addresses;
  await ip('-n', a.ns, 'addr', 'add', `${ipv4.far}/${ipv4.bits}`, 'dev', 'eth0');
  await ip('-n', a.ns, '-6', 'addr', 'add', `${ipv6.far}/${ipv6.bits}`, 'dev', 'eth0', 'nodad');
  await ip('-n', region.routerNs, 'addr', 'add', `${ipv4.near}/${ipv4.bits}`, 'dev', a.routerIf);
  await ip('-n', region.routerNs, '-6', 'addr', 'add', `${ipv6.near}/${ipv6.bits}`, 'dev', a.routerIf, 'nodad');
  await ip('-n', a.ns, 'link', 'set', 'eth0', 'up');
  await ip('-n', region.routerNs, 'link', 'set', a.routerIf, 'up');
  await ip('-n', a.ns, 'route', 'add', 'default', 'via', ipv4.near);
  await ip('-n', a.ns, '-6', 'route', 'add', 'default', 'via', ipv6.near);
}

/**
 * The internet side of the backbone: per link, a veth from each router into the
 * internet namespace, each in its own bridge (the TAP the socat will make joins it).
 * Bridges forward at once (no STP) and flood multicast (no snooping), so NDP works.
 */
export async function wireBackbone(plan: LabPlan): Promise<void> {
  for (const link of plan.backbone) {
    const ends = [
      { region: link.a, peer: link.b, veth: link.inet.vethA, bridge: link.inet.bridgeA, address: { v4: link.addresses.ipv4.near, v6: link.addresses.ipv6.near } },
      { region: link.b, peer: link.a, veth: link.inet.vethB, bridge: link.inet.bridgeB, address: { v4: link.addresses.ipv4.far, v6: link.addresses.ipv6.far } },
    ];
    for (const end of ends) {
      const routerNs = plan.regions.find((r) => r.code === end.region)!.routerNs;
      const routerIf = `bb-${end.peer}`;
      await ip('-n', plan.inetNs, 'link', 'add', end.veth, 'type', 'veth', 'peer', 'name', routerIf, 'netns', routerNs);
      await ip('-n', plan.inetNs, 'link', 'add', end.bridge, 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0', 'mcast_snooping', '0');
      await ip('-n', plan.inetNs, 'link', 'set', end.veth, 'master', end.bridge);
      await ip('-n', plan.inetNs, 'link', 'set', end.veth, 'up');
      await ip('-n', plan.inetNs, 'link', 'set', end.bridge, 'up');
      await ip('-n', routerNs, 'addr', 'add', `${end.address.v4}/${link.addresses.ipv4.bits}`, 'dev', routerIf);
      await ip('-n', routerNs, '-6', 'addr', 'add', `${end.address.v6}/${link.addresses.ipv6.bits}`, 'dev', routerIf, 'nodad');
      await ip('-n', routerNs, 'link', 'set', routerIf, 'up');
    }
  }
}

/** Puts a TAP made by socat into its bridge, once it exists (socat creates it as it starts). */
export async function bridgeTap(plan: LabPlan, tap: string, bridge: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const shown = await execCommand('ip', ['-n', plan.inetNs, 'link', 'show', tap], OPTS);
    if (shown.code === 0) break;
    if (Date.now() > deadline) throw new AloftError('LAB_FAILED', `Cannot build the backbone as socat must create TAP '${tap}' in ${plan.inetNs}: not there after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  await ip('-n', plan.inetNs, 'link', 'set', tap, 'master', bridge);
  await ip('-n', plan.inetNs, 'link', 'set', tap, 'up');
}
