/** edge: an anycast edge beside its proxy — bird2 (`bgp/`), the announcement tied to the proxy's health, and the WireGuard backhaul (`backhaul/`). */
export { EdgeAnnouncer, type Announcement, type EdgeAnnouncerOptions, type EdgeState } from './edge-announcer.ts';
export { proxyProbe, PROBE_HOST } from './proxy-probe.ts';
export { startLocalEdge, type LocalEdgeOptions } from './local-edge.ts';
export * from './bgp/index.ts';
export * from './backhaul/index.ts';
