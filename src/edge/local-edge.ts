import { AloftError } from '../lib/errors.ts';
import { AnycastAnnouncer } from './bgp/anycast-announcer.ts';
import { BirdClient } from './bgp/birdc.ts';
import { EDGE_UPLINKS } from './bgp/edge-config.ts';
import { EdgeAnnouncer, type EdgeAnnouncerOptions } from './edge-announcer.ts';
import { proxyProbe } from './proxy-probe.ts';

/** What `aloft proxy --anycast-bird-socket …` passes. */
export interface LocalEdgeOptions extends Omit<EdgeAnnouncerOptions, 'announcement' | 'probe'> {
  /** The edge bird's control socket. */
  birdSocket: string;
  /** bird's export sessions to disable on withdraw. Default `uplink_v4`, `uplink_v6` (edge-config.ts). */
  sessions?: readonly string[];
  /** Where the local proxy listens. */
  proxy: { host: string; port: number };
  /** How long one probe may take. Default 1000 ms. */
  probeTimeoutMs?: number;
  /** The flag that gave `birdSocket`, for the error when bird is not there. Default `anycast-bird-socket` (aloft proxy's). */
  socketFlag?: string;
}

/**
 * The edge of `aloft proxy`: an {@link EdgeAnnouncer} driving this machine's bird
 * (over its control socket) by probes of the proxy's own HTTP port. A wildcard listen
 * address is probed on loopback. Started: the first probe has announced or withdrawn.
 * BIRD_FAILED when bird does not answer on the socket (a wrong path would otherwise
 * only show as failed announcements, one a second).
 */
export async function startLocalEdge(options: LocalEdgeOptions): Promise<EdgeAnnouncer> {
  const { birdSocket, sessions, proxy, probeTimeoutMs, socketFlag, ...rest } = options;
  const host = proxy.host === '0.0.0.0' || proxy.host === '' ? '127.0.0.1' : proxy.host === '::' ? '::1' : proxy.host;
  const client = new BirdClient(birdSocket);
  if (!(await client.ping())) {
    throw new AloftError('BIRD_FAILED', `Cannot start the anycast edge as '${socketFlag ?? 'anycast-bird-socket'}' must be the control socket of a running bird: got "${birdSocket}" (no answer)`);
  }
  const edge = new EdgeAnnouncer({
    ...rest,
    announcement: new AnycastAnnouncer(client, sessions ?? EDGE_UPLINKS),
    probe: proxyProbe({ host, port: proxy.port, timeoutMs: probeTimeoutMs ?? 1000 }),
  });
  await edge.start();
  return edge;
}
