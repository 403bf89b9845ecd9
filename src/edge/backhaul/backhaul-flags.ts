import { isIP } from 'node:net';
import { invalidField } from '../../lib/errors.ts';

/** `aloft proxy`'s backhaul flags as given (strings, straight from the command line). */
export interface BackhaulFlags {
  edgeId?: string | undefined;
  hostNumber?: string | undefined;
  underlay?: string | undefined;
  meshPort?: string | undefined;
  heartbeatInterval?: number | undefined;
}

/** The backhaul of an edge proxy, checked. */
export interface BackhaulSettings {
  edgeId: string;
  hostNumber: number;
  /** A bare IP address (brackets taken off an IPv6 one). */
  underlay: string;
  meshPort: number;
  heartbeatIntervalMs?: number;
}

const ACTION = 'start the proxy';
/** The default UDP port of an edge's wireguard-go: WireGuard's usual one, as for hosts. */
export const DEFAULT_BACKHAUL_PORT = 51820;

/**
 * Reads the backhaul flags: none of them means no backhaul (the proxy dials Machines'
 * host-local IPv4, as beside `aloft up`); `--underlay` turns it on and then needs
 * `--edge-id` and `--host-number`; the others without `--underlay` are a mistake, said
 * so rather than ignored. Every bad value is INVALID_ARGUMENT naming its flag.
 */
export function backhaulSettings(flags: BackhaulFlags): BackhaulSettings | undefined {
  const given = (['edgeId', 'hostNumber', 'meshPort', 'heartbeatInterval'] as const).filter((key) => flags[key] !== undefined);
  if (flags.underlay === undefined) {
    if (given.length === 0) return undefined;
    const flag = { edgeId: 'edge-id', hostNumber: 'host-number', meshPort: 'mesh-port', heartbeatInterval: 'heartbeat-interval' }[given[0]!];
    throw invalidField(ACTION, 'underlay', `given with --${flag} (the backhaul is on only with an underlay address)`, undefined);
  }
  const underlay = flags.underlay.startsWith('[') && flags.underlay.endsWith(']') ? flags.underlay.slice(1, -1) : flags.underlay;
  if (isIP(underlay) === 0) throw invalidField(ACTION, 'underlay', 'an IPv4 or IPv6 address without a port (the port is --mesh-port)', flags.underlay);
  const edgeId = flags.edgeId;
  if (edgeId === undefined) throw invalidField(ACTION, 'edge-id', "given with --underlay (this edge's id in the host registry)", undefined);
  if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(edgeId)) throw invalidField(ACTION, 'edge-id', 'lowercase letters, digits and dashes, at most 63 long', edgeId);
  if (flags.hostNumber === undefined) throw invalidField(ACTION, 'host-number', "given with --underlay (this edge's number in 6PN network 0, unique among hosts and edges)", undefined);
  const hostNumber = /^\d+$/.test(flags.hostNumber) ? Number(flags.hostNumber) : Number.NaN;
  if (!Number.isInteger(hostNumber) || hostNumber < 1 || hostNumber > 0xffff_ffff) throw invalidField(ACTION, 'host-number', 'an integer from 1 to 4294967295', flags.hostNumber);
  const meshPort = flags.meshPort === undefined ? DEFAULT_BACKHAUL_PORT : /^\d+$/.test(flags.meshPort) ? Number(flags.meshPort) : Number.NaN;
  if (!Number.isInteger(meshPort) || meshPort < 0 || meshPort > 65_535) throw invalidField(ACTION, 'mesh-port', 'a port number from 0 to 65535', flags.meshPort);
  const beat = flags.heartbeatInterval;
  if (beat !== undefined && (!Number.isInteger(beat) || beat < 1)) throw invalidField(ACTION, 'heartbeat-interval', 'a duration of at least 1 ms such as "2s"', beat);
  return { edgeId, hostNumber, underlay, meshPort, ...(flags.heartbeatInterval === undefined ? {} : { heartbeatIntervalMs: flags.heartbeatInterval }) };
}
