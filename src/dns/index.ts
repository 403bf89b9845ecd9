/** aloft's private DNS: `.internal` names from the store, other names forwarded upstream. */
export { startDnsServer, DNS_PRIVATE_ADDRESS, type DnsServerOptions, type RunningDnsServer } from './server.ts';
export { startStandaloneDns, type StandaloneDnsOptions } from './standalone.ts';
export { DnsView, type DnsSource, type DnsMachine, type Asker } from './dns-view.ts';
export { InternalResolver, type Resolution, type ResolverOptions } from './resolver.ts';
export { parseInternalName, type InternalName } from './internal-names.ts';
export { parseUpstream, upstreamFromResolvConf, type Upstream } from './upstream.ts';
export { decodeMessage } from './wire-read.ts';
export { encodeMessage } from './wire-write.ts';
export * from './message.ts';
