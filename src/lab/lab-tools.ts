import { requiredTools, type HostTool } from '../platform/host-tools.ts';

/** What `aloft lab up --no-platform` needs on this machine, and the Debian package of each (installed when missing). */
export const LAB_NETWORK_TOOLS: readonly HostTool[] = [
  { binary: 'ip', aptPackage: 'iproute2', why: "builds the lab's namespaces and links" },
  { binary: 'bird', aptPackage: 'bird2', why: 'routes each region and announces the anycast edges (BGP, BFD)' },
  { binary: 'birdc', aptPackage: 'bird2', why: 'drives bird through its control socket (drain, status)' },
  { binary: 'socat', aptPackage: 'socat', why: 'holds the TAP devices of the delayed links between regions' },
];

/** What `aloft lab up` needs with the platform on the network: the above, etcd, and what every host needs (runsc, wireguard-go, nft…). */
export const LAB_TOOLS: readonly HostTool[] = [
  ...LAB_NETWORK_TOOLS,
  { binary: 'etcd', aptPackage: 'etcd-server', why: "the lab's 3-member store, one member per region" },
  ...requiredTools('runsc').filter((t) => !LAB_NETWORK_TOOLS.some((n) => n.binary === t.binary)),
];
