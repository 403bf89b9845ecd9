import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { Bird } from '../bird.ts';
import { renderBirdConfig } from '../bird-config.ts';
import { edgeBirdConfig } from '../edge-config.ts';

/** The anycast addresses the pair's edge announces. */
export const PAIR_ANYCAST = { ipv4: '203.0.113.1', ipv6: '2001:db8:a10f::1' } as const;

const ip = (...args: string[]): string => execFileSync('ip', args, { encoding: 'utf8' });

/**
 * An edge and its region's router as two namespaces joined by one veth (edge eth0
 * 10.1.0.2 / fd10:0:1::2, router `edge` 10.1.0.1 / fd10:0:1::1), for tests of bird and
 * of what drives it. Root only. Remove with `removeNamespaces` after stopping the birds.
 */
export function linkEdgeAndRouter(edgeNs: string, routerNs: string): void {
  for (const ns of [edgeNs, routerNs]) {
    ip('netns', 'add', ns);
    ip('-n', ns, 'link', 'set', 'lo', 'up');
  }
  ip('-n', edgeNs, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'edge', 'netns', routerNs);
  ip('-n', edgeNs, 'addr', 'add', '10.1.0.2/24', 'dev', 'eth0');
  ip('-n', edgeNs, '-6', 'addr', 'add', 'fd10:0:1::2/64', 'dev', 'eth0', 'nodad');
  ip('-n', routerNs, 'addr', 'add', '10.1.0.1/24', 'dev', 'edge');
  ip('-n', routerNs, '-6', 'addr', 'add', 'fd10:0:1::1/64', 'dev', 'edge', 'nodad');
  ip('-n', edgeNs, 'link', 'set', 'eth0', 'up');
  ip('-n', routerNs, 'link', 'set', 'edge', 'up');
}

/** Deletes the pair's namespaces (and with them the veth). */
export function removeNamespaces(...namespaces: string[]): void {
  for (const ns of namespaces) ip('netns', 'del', ns);
}

/**
 * The two birds (not started): the edge announcing PAIR_ANYCAST over eBGP with BFD
 * (AS 65000), the router (AS 64601) importing everything into its kernel table.
 * Control sockets, configs and logs go in `dir`.
 */
export function edgeAndRouterBirds(dir: string, edgeNs: string, routerNs: string): { edge: Bird; router: Bird } {
  const edge = new Bird({
    netns: edgeNs,
    socketPath: join(dir, 'edge.ctl'),
    configPath: join(dir, 'edge.conf'),
    outputFile: join(dir, 'edge.log'),
    config: edgeBirdConfig({
      routerId: '10.1.0.2',
      localAs: 65000,
      routerAs: 64601,
      ipv4: { local: '10.1.0.2', router: '10.1.0.1' },
      ipv6: { local: 'fd10:0:1::2', router: 'fd10:0:1::1' },
      anycast: PAIR_ANYCAST,
    }),
  });
  const router = new Bird({
    netns: routerNs,
    socketPath: join(dir, 'router.ctl'),
    configPath: join(dir, 'router.conf'),
    outputFile: join(dir, 'router.log'),
    config: renderBirdConfig({
      routerId: '10.1.0.1',
      kernel: true,
      statics: [],
      sessions: (['ipv4', 'ipv6'] as const).map((family) => ({
        name: `edge_${family}`,
        family,
        localAddress: family === 'ipv4' ? '10.1.0.1' : 'fd10:0:1::1',
        localAs: 64601,
        neighborAddress: family === 'ipv4' ? '10.1.0.2' : 'fd10:0:1::2',
        neighborAs: 65000,
        bfd: true,
        import: { kind: 'all' },
        exportFrom: [],
      })),
    }),
  });
  return { edge, router };
}
