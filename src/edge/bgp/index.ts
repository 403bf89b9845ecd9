/** edge/bgp: bird2 for anycast edges — config writer, the daemon supervisor, birdc, announce/withdraw. */
export { DEFAULT_BFD, renderBirdConfig, type BirdConfigSpec, type BirdFamily, type BirdImport, type BirdSession, type BirdStatic } from './bird-config.ts';
export { EDGE_UPLINKS, edgeBirdConfig, type AnycastAddresses, type EdgeBgpOptions } from './edge-config.ts';
export { BirdClient, parseProtocols, type BirdProtocol } from './birdc.ts';
export { Bird, stopPid, type BirdOptions } from './bird.ts';
export { AnycastAnnouncer } from './anycast-announcer.ts';
