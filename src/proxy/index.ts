/**
 * The proxy part: the edge proxy that routes `<app>.<domain>` to started Machines,
 * its routing table (followed from the store's watch) and the steps it is built of.
 */
export { createProxy, type BackendOptions, type Proxy, type ProxyOptions } from './server.ts';
export { RouteTable, type AppRoutes, type RouteLookup, type RouteSource } from './route-table.ts';
export { httpServicePort, toRouteEntry, type DialFamily, type RouteEntry } from './route-entry.ts';
export { compose, type Step } from './compose.ts';
export { createContext, type ProxyContext } from './context.ts';
export { randomPicker, type Picker } from './picker.ts';
export { Balancer, type BalanceOptions } from './balance/balancer.ts';
export { chooseMachine } from './balance/choose.ts';
export { DEFAULT_CONCURRENCY, concurrencyOf, type Concurrency } from './balance/concurrency.ts';
export { validateRttTable, type RegionRttTable } from './balance/region-rtt.ts';
export { DEFAULT_QUEUE_LIMITS, type QueueLimits } from './balance/slot-queue.ts';
export { HealthChecker } from './health/health-checker.ts';
export { healthChecksOf, type HealthCheckSpec } from '../health/index.ts';
export { defaultRetryPolicy, type RetryPolicy } from './retry-policy.ts';
export { ProxyMetrics } from './metrics.ts';
export { PROXY_ANSWER_CODES, answer, type ProxyAnswerCode } from './answers.ts';
export { appFromHost } from './host.ts';
export type { RetryEvent } from './steps/forward.ts';
export { replayStep, type ReplaySettings } from './steps/replay.ts';
export { parseReplayHeader, parseReplayJson, REPLAY_JSON_TYPE, type ReplayDirective } from './replay/directive.ts';
export { resolveLimits, type ClientLimits, type RateLimit } from './guard/limits.ts';
export type { EdgePorts, TlsOptions } from './listeners/edge-listeners.ts';
export { servicePortsOf, type Handler, type ServicePort } from './listeners/service-ports.ts';
export type { TcpService } from './tcp/tcp-listener.ts';
export { proxyHeader } from './tcp/proxy-protocol.ts';
export { DirCertStore, MemoryCertStore, type CertPair, type CertStore } from './tls/cert-store.ts';
// tls/self-signed.ts and tls/acme.ts load on first use (x509 and ACME libraries are heavy).
export type { AcmeOptions } from './tls/acme.ts';
export type { AutoscaleOptions } from './server.ts';
export { Autostarter, Autostopper, autoscaleOf, type AutostopEvent, type AutoscaleSettings, type AutostopMode } from './autoscale/index.ts';
export { BackendPools, type Backend } from './backend/index.ts';
