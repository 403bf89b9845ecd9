/**
 * The proxy part: the edge proxy that routes `<app>.<domain>` to started Machines,
 * its routing table (followed from the store's watch) and the steps it is built of.
 */
export { createProxy, type BackendOptions, type Proxy, type ProxyOptions } from './server.ts';
export { RouteTable, type AppRoutes, type RouteLookup, type RouteSource } from './route-table.ts';
export { httpServicePort, toRouteEntry, type RouteEntry } from './route-entry.ts';
export { compose, type Step } from './compose.ts';
export { createContext, type ProxyContext } from './context.ts';
export { randomPicker, type Picker } from './picker.ts';
export { Balancer, type BalanceOptions } from './balance/balancer.ts';
export { chooseMachine } from './balance/choose.ts';
export { DEFAULT_CONCURRENCY, concurrencyOf, type Concurrency } from './balance/concurrency.ts';
export { validateRttTable, type RegionRttTable } from './balance/region-rtt.ts';
export { DEFAULT_QUEUE_LIMITS, type QueueLimits } from './balance/slot-queue.ts';
export { HealthChecker } from './health/health-checker.ts';
export { healthChecksOf, type HealthCheckSpec } from './health/check-spec.ts';
export { defaultRetryPolicy, type RetryPolicy } from './retry-policy.ts';
export { ProxyMetrics } from './metrics.ts';
export { PROXY_ANSWER_CODES, answer, type ProxyAnswerCode } from './answers.ts';
export { appFromHost } from './host.ts';
export type { RetryEvent } from './steps/forward.ts';
export { replayStep, type ReplaySettings } from './steps/replay.ts';
export { parseReplayHeader, parseReplayJson, REPLAY_JSON_TYPE, type ReplayDirective } from './replay/directive.ts';
export { resolveLimits, type ClientLimits, type RateLimit } from './guard/limits.ts';
