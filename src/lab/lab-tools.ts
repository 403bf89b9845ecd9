import type { HostTool } from '../platform/host-tools.ts';

/** What `aloft lab up` needs on this machine, and the Debian package of each (installed when missing). */
export const LAB_TOOLS: readonly HostTool[] = [
  { binary: 'ip', aptPackage: 'iproute2', why: "builds the lab's namespaces and links" },
  { binary: 'bird', aptPackage: 'bird2', why: 'routes each region and announces the anycast edges (BGP, BFD)' },
  { binary: 'birdc', aptPackage: 'bird2', why: 'drives bird through its control socket (drain, status)' },
  { binary: 'socat', aptPackage: 'socat', why: 'holds the TAP devices of the delayed links between regions' },
];
