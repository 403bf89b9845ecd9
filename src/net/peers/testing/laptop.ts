import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NetnsKit } from '../../wireguard/testing/netns.ts';
import { WireguardSupervisor } from '../../wireguard/supervisor.ts';
import { WIREGUARD_MTU } from '../../wireguard/tunnel-interface.ts';
import { parseWgQuickConfig } from '../wg-quick-config.ts';

/**
 * A laptop joining with a generated config, done as wg-quick(8) does it but without
 * wireguard-tools: stock wireguard-go makes the interface, the [Interface] key and the
 * [Peer] go in over UAPI (wg-quick's `wg setconf`), then `ip` adds the Address, sets
 * MTU and up, and routes each AllowedIPs over the tunnel. DNS= is returned for the
 * caller to use as the resolver (wg-quick hands it to resolvconf).
 */
export async function bringUpLaptop(kit: NetnsKit, ns: string, iface: string, configText: string): Promise<{ dns: string; address: string; stop: () => Promise<void> }> {
  const config = parseWgQuickConfig(configText);
  const field = (section: 'Interface' | 'Peer', name: string): string => {
    const value = config[section][name];
    if (value === undefined) throw new Error(`the config has no ${section}.${name}:\n${configText}`);
    return value;
  };
  const allowed = field('Peer', 'AllowedIPs').split(',').map((s) => s.trim());
  const socketDir = await mkdtemp(join(tmpdir(), 'aloft-laptop-wg-'));
  const daemon = new WireguardSupervisor({
    iface,
    netns: ns,
    socketDir,
    onStart: async (client) => {
      await client.set({
        privateKey: field('Interface', 'PrivateKey'),
        peers: [{ publicKey: field('Peer', 'PublicKey'), endpoint: field('Peer', 'Endpoint'), persistentKeepalive: Number(field('Peer', 'PersistentKeepalive')), replaceAllowedIps: true, allowedIps: allowed }],
      });
    },
  });
  await daemon.start();
  const address = field('Interface', 'Address');
  await kit.ip('-n', ns, '-6', 'addr', 'add', address, 'dev', iface, 'nodad');
  await kit.ip('-n', ns, 'link', 'set', iface, 'mtu', field('Interface', 'MTU') || String(WIREGUARD_MTU), 'up');
  for (const cidr of allowed) await kit.ip('-n', ns, '-6', 'route', 'add', cidr, 'dev', iface);
  return {
    dns: field('Interface', 'DNS'),
    address: address.split('/')[0] ?? address,
    stop: async () => {
      await daemon.stop();
      await rm(socketDir, { recursive: true, force: true });
    },
  };
}
