import type { Machine, MachineConfig, MachineService, MachineState } from '../model/index.ts';
import { concurrencyOf, type Concurrency } from './balance/concurrency.ts';
import { healthChecksOf, type HealthCheckSpec } from '../health/index.ts';
import { servicePortsOf, type ServicePort } from './listeners/service-ports.ts';

/**
 * What the proxy needs to know about one Machine to send it traffic. Built from the
 * store's Machine record; kept small so the table stays cheap to rebuild per change.
 */
export interface RouteEntry {
  appName: string;
  machineId: string;
  /** The Machine's current version (fly-prefer-instance-id may name it too). */
  instanceId: string;
  region: string;
  state: MachineState;
  /**
   * Host-local IPv4 address the proxy dials: '' when the Machine has none, or when the
   * proxy dials 6PN (`dial: 'ipv6'`), so every dialer (the pools, upgrades, raw TCP,
   * health checks) takes `ipv6` instead.
   */
  ipv4: string;
  /** 6PN address: dialled when `ipv4` is '' (an edge on the mesh, hosts without IPv4). */
  ipv6: string;
  /** The `internal_port` of the Machine's HTTP service. */
  port: number;
  /** `http://<address>:<port>`, the key of the backend connection pool. */
  origin: string;
  /**
   * When the proxy saw the Machine become `started` (ms since the epoch). Its process
   * may not listen yet for a moment after that, so connect failures soon after are
   * retried on it.
   */
  startedAt: number;
  /** Limits of the HTTP service (Fly's defaults when not given). */
  concurrency: Concurrency;
  /** The HTTP service's checks; none means healthy whenever started. */
  checks: readonly HealthCheckSpec[];
  /** Every edge port of the Machine's services (raw TCP, proxy_proto, tls listeners use them). */
  services?: readonly ServicePort[];
  /** An `http` port of the HTTP service sets `force_https`: plain HTTP is redirected. */
  forceHttps?: boolean;
}

/**
 * The port the proxy forwards HTTP to: the `internal_port` of the service that has
 * port 80 or 443 with the `http` handler, else of the first service. Undefined when
 * the Machine has no services (it takes no proxied traffic).
 */
export function httpServicePort(config: MachineConfig): number | undefined {
  return httpService(config)?.internal_port;
}

/** The service `httpServicePort` picks (its concurrency and checks apply to proxied traffic). */
export function httpService(config: MachineConfig): MachineService | undefined {
  const services = config.services ?? [];
  const http = services.find((service) =>
    (service.ports ?? []).some(
      (p) => (p.port === 80 || p.port === 443) && (p.handlers ?? []).includes('http'),
    ),
  );
  return http ?? services[0];
}

/**
 * Which of a Machine's addresses the proxy dials. `ipv4`: its host-local IPv4 (6PN when
 * it has none), reachable only from its own host — the embedded `aloft up`. `ipv6`: its
 * 6PN address only, reachable from anywhere on the WireGuard mesh — an edge proxy on
 * the backhaul (`aloft proxy --backhaul-…`), whose Machines are on other hosts.
 */
export type DialFamily = 'ipv4' | 'ipv6';

/**
 * The route entry for `machine`, or undefined when it cannot take traffic: it needs
 * an address of the family it is dialled by and an HTTP service port. State is copied,
 * not checked: the table decides what a state means (started routes, starting is "coming").
 */
export function toRouteEntry(machine: Machine, startedAt: number, dial: DialFamily = 'ipv4'): RouteEntry | undefined {
  const service = httpService(machine.config);
  const port = service?.internal_port;
  const ipv4 = dial === 'ipv4' ? (machine.addresses?.ipv4 ?? '') : '';
  const ipv6 = machine.addresses?.ipv6 ?? '';
  if (port === undefined || (ipv4 === '' && ipv6 === '')) return undefined;
  const host = ipv4 !== '' ? ipv4 : `[${ipv6}]`;
  return {
    appName: machine.appName,
    machineId: machine.id,
    instanceId: machine.instanceId,
    region: machine.region,
    state: machine.state,
    ipv4,
    ipv6,
    port,
    origin: `http://${host}:${port}`,
    startedAt,
    concurrency: concurrencyOf(service),
    checks: healthChecksOf(service),
    services: servicePortsOf(machine.config),
    forceHttps: (service?.ports ?? []).some((p) => p.force_https === true && (p.handlers ?? []).includes('http')),
  };
}
