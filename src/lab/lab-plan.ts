import { AloftError, invalidField } from '../lib/errors.ts';
import { parseRegionList } from '../model/regions.ts';
import { labRtt } from './rtt.ts';

/** Both ends' addresses of a point-to-point link, per family (with prefix length). */
export interface LinkAddresses {
  ipv4: { near: string; far: string; bits: number };
  ipv6: { near: string; far: string; bits: number };
}

/** A namespace hung off a region's router by one veth: the edge, a host, the client. */
export interface Attachment {
  /** The place people name: `ams-edge`, `ams-h1`, `ams-client`. */
  place: string;
  ns: string;
  /** The interface name in the router (the namespace's own is `eth0`). */
  routerIf: string;
  /** near: the router's address; far: the namespace's. */
  addresses: LinkAddresses;
}

/** One region: its router and what hangs off it. */
export interface RegionPlan {
  code: string;
  /** 1-based: the second octet of its 10.N.0.0/16. */
  number: number;
  routerNs: string;
  routerAs: number;
  routerId: string;
  prefixes: { ipv4: string; ipv6: string };
  edge: Attachment;
  client: Attachment;
  hosts: Attachment[];
}

/**
 * A link between two region routers across the internet namespace: router A's `bb-<b>`
 * ↔ veth `<k>a` in a bridge with TAP `t<k>a` ↔ socat ↔ the delay relay (half the RTT
 * each way) ↔ socat ↔ TAP `t<k>b` bridged with `<k>b` ↔ router B's `bb-<a>`. Layer 2 end
 * to end, so the routers are neighbours (eBGP TTL 1, single-hop BFD, ARP/NDP work).
 */
export interface BackbonePlan {
  name: string;
  a: string;
  b: string;
  /** 1-based link number: 10.255.K.0/24. */
  number: number;
  rttMs: number;
  /** near: router A's address; far: router B's. */
  addresses: LinkAddresses;
  /** Interface names in the internet namespace (veths, TAPs, bridges). */
  inet: { vethA: string; vethB: string; tapA: string; tapB: string; bridgeA: string; bridgeB: string };
  /** UDP ports in the internet namespace: the relay's two sockets and the two socats'. */
  ports: { relayA: number; relayB: number; socatA: number; socatB: number };
}

/** The whole world of one lab. */
export interface LabPlan {
  name: string;
  /** Every namespace of the lab starts with it: `al-<name>-`. */
  prefix: string;
  inetNs: string;
  edgeAs: number;
  anycast: { ipv4: string; ipv6: string };
  regions: RegionPlan[];
  backbone: BackbonePlan[];
}

/** What `aloft lab up` was asked for. */
export interface LabRequest {
  name: string;
  regions: string | readonly string[];
  hostsPerRegion?: number;
  /** RTTs to use instead of the built-in table, `{ "ams": { "iad": 80 } }`. */
  rtt?: Readonly<Record<string, Readonly<Record<string, number>>>>;
  /**
   * Run the platform on the network (default true): etcd, the API, an agent per host,
   * an `aloft proxy` per edge. False builds the network alone (its stand-in responders
   * answer at the edges), which is what network-only tests and benches need.
   */
  platform?: boolean;
}

const LAB_NAME = /^[a-z][a-z0-9]{0,7}$/;
const MAX_REGIONS = 12;
const MAX_HOSTS = 8;
/** Every edge announces from the platform's one AS, as real anycast networks do. */
export const LAB_EDGE_AS = 65000;
/** TEST-NET-3 and the documentation IPv6 prefix: never routed on the real internet. */
export const LAB_ANYCAST = { ipv4: '203.0.113.1', ipv6: '2001:db8:a10f::1' } as const;
const RELAY_PORT_BASE = 20_000;

/** Plans a lab: names, addresses, AS numbers and links, all derived from the request (pure). */
export function planLab(request: LabRequest): LabPlan {
  const action = 'plan the lab';
  if (typeof request.name !== 'string' || !LAB_NAME.test(request.name)) {
    throw invalidField(action, 'name', 'a letter then up to 7 of [a-z0-9] (namespaces are named al-<name>-…)', request.name);
  }
  const hostsPerRegion = request.hostsPerRegion ?? 1;
  if (!Number.isInteger(hostsPerRegion) || hostsPerRegion < 0 || hostsPerRegion > MAX_HOSTS) {
    throw invalidField(action, 'hosts-per-region', `an integer from 0 to ${MAX_HOSTS}`, hostsPerRegion);
  }
  const codes = parseRegionList(request.regions, action, 'regions').map((r) => r.code);
  if (codes.length < 1 || codes.length > MAX_REGIONS) throw invalidField(action, 'regions', `1 to ${MAX_REGIONS} region codes`, request.regions);
  const prefix = `al-${request.name}-`;
  const regions = codes.map((code, i) => planRegion(prefix, code, i + 1, hostsPerRegion));
  const backbone: BackbonePlan[] = [];
  for (let i = 0; i < codes.length; i++) {
    for (let j = i + 1; j < codes.length; j++) {
      const a = codes[i]!;
      const b = codes[j]!;
      const number = backbone.length + 1;
      const base = RELAY_PORT_BASE + number * 4;
      const rttMs = labRtt(a, b, request.rtt);
      if (!Number.isFinite(rttMs) || rttMs < 0 || rttMs > 2000) throw invalidField(action, `rtt.${a}.${b}`, 'milliseconds from 0 to 2000', rttMs);
      backbone.push({
        name: `${a}-${b}`,
        a,
        b,
        number,
        rttMs,
        addresses: {
          ipv4: { near: `10.255.${number}.1`, far: `10.255.${number}.2`, bits: 24 },
          ipv6: { near: `fd10:ff:${number}::1`, far: `fd10:ff:${number}::2`, bits: 64 },
        },
        inet: { vethA: `k${number}a`, vethB: `k${number}b`, tapA: `t${number}a`, tapB: `t${number}b`, bridgeA: `b${number}a`, bridgeB: `b${number}b` },
        ports: { relayA: base, relayB: base + 1, socatA: base + 2, socatB: base + 3 },
      });
    }
  }
  return { name: request.name, prefix, inetNs: `${prefix}inet`, edgeAs: LAB_EDGE_AS, anycast: { ...LAB_ANYCAST }, regions, backbone };
}

function planRegion(prefix: string, code: string, n: number, hosts: number): RegionPlan {
  // /30-ish subnets inside the region's 10.N.0.0/16 and fd10:0:N::/48: 0 edge, 1 client, 10+h hosts.
  const attach = (place: string, routerIf: string, subnet: number): Attachment => ({
    place: `${code}-${place}`,
    ns: `${prefix}${code}-${place}`,
    routerIf,
    addresses: {
      ipv4: { near: `10.${n}.${subnet}.1`, far: `10.${n}.${subnet}.2`, bits: 24 },
      ipv6: { near: canonical6(`fd10:0:${n}:${subnet}::1`), far: canonical6(`fd10:0:${n}:${subnet}::2`), bits: 64 },
    },
  });
  return {
    code,
    number: n,
    routerNs: `${prefix}${code}-router`,
    routerAs: 64600 + n,
    routerId: `10.${n}.0.1`,
    prefixes: { ipv4: `10.${n}.0.0/16`, ipv6: `fd10:0:${n}::/48` },
    edge: attach('edge', 'edge', 0),
    client: attach('client', 'client', 1),
    hosts: Array.from({ length: hosts }, (_, h) => attach(`h${h + 1}`, `h${h + 1}`, 10 + h + 1)),
  };
}

/** Every namespace of a plan, the internet's first. */
export function planNamespaces(plan: LabPlan): string[] {
  return [plan.inetNs, ...plan.regions.flatMap((r) => [r.routerNs, r.edge.ns, r.client.ns, ...r.hosts.map((h) => h.ns)])];
}

/**
 * The namespace a person means: a place (`ams-client`, `ams-edge`, `ams-router`,
 * `ams-h1`, `inet`), a bare region (its client: "a client in ams"), or a full namespace name.
 */
export function resolvePlace(plan: LabPlan, place: string): string {
  const all = planNamespaces(plan);
  if (all.includes(place)) return place;
  if (place === 'inet' || place === 'internet') return plan.inetNs;
  const region = plan.regions.find((r) => r.code === place);
  if (region) return region.client.ns;
  const candidate = `${plan.prefix}${place}`;
  if (all.includes(candidate)) return candidate;
  throw new AloftError('INVALID_ARGUMENT', `Cannot run in the lab as 'place' must be a region, inet, or one of ${all.map((ns) => ns.slice(plan.prefix.length)).join(', ')}: got "${place}"`, {
    details: { field: 'place', value: place },
  });
}

/** An IPv6 address as the kernel prints it (`fd10:0:1:0::2` → `fd10:0:1::2`), so plans compare with `ip` output. */
function canonical6(address: string): string {
  return new URL(`http://[${address}]/`).hostname.slice(1, -1);
}
