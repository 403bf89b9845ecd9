/** edge: an anycast edge beside its proxy — bird2 (`bgp/`) and the announcement tied to the proxy's health. */
export { EdgeAnnouncer, type Announcement, type EdgeAnnouncerOptions, type EdgeState } from './edge-announcer.ts';
export { proxyProbe, PROBE_HOST } from './proxy-probe.ts';
export { startLocalEdge, type LocalEdgeOptions } from './local-edge.ts';
export * from './bgp/index.ts';
