import type { MachineConfig } from '../../model/index.ts';

/** A handler Fly runs on an edge port before the bytes reach the Machine. */
export type Handler = 'http' | 'tls' | 'proxy_proto' | 'pg_tls' | 'edge_http';

/** One edge port of a Machine's service, as the edge serves it. */
export interface ServicePort {
  /** The public (edge) port, `services[].ports[].port`. */
  port: number;
  /** The Machine's port that takes the bytes, `services[].internal_port`. */
  internalPort: number;
  /** In Fly's order; none means raw TCP. */
  handlers: readonly Handler[];
  /** `force_https`: an `http` port answers 301 to https. */
  forceHttps: boolean;
  /** `proxy_proto_options.version` for a `proxy_proto` port (Fly's default is v1). */
  proxyProtoVersion: 1 | 2;
}

/**
 * Every edge port of `config`'s TCP services. Port ranges (`start_port`…`end_port`)
 * and UDP services are left out: the edge listens on single ports. An unreadable
 * `proxy_proto_options.version` falls back to v1 rather than refusing the Machine,
 * as the API accepted its config already.
 */
export function servicePortsOf(config: MachineConfig): ServicePort[] {
  const out: ServicePort[] = [];
  for (const service of config.services ?? []) {
    if (service.protocol === 'udp') continue;
    for (const p of service.ports ?? []) {
      if (p.port === undefined) continue;
      const options = (p as { proxy_proto_options?: { version?: unknown } }).proxy_proto_options;
      out.push({
        port: p.port,
        internalPort: service.internal_port,
        handlers: p.handlers ?? [],
        forceHttps: p.force_https === true,
        proxyProtoVersion: options?.version === 'v2' ? 2 : 1,
      });
    }
  }
  return out;
}
