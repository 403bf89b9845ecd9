/**
 * Test program: aloft's DNS server as a gateway host runs it, at fdaa::3:53, with user
 * peers (`_peer.internal`) and Flycast names (`<app>.flycast`) from the store at argv[2].
 * Run inside the gateway's netns (`ip netns exec NS node --import tsx gateway-dns.ts DB`):
 * a Node process cannot bind in another namespace. Prints "ready" once listening; stops on SIGTERM.
 */
import { startDnsServer, DNS_PRIVATE_ADDRESS } from '../../../dns/index.ts';
import { FlycastDirectory } from '../../../flycast/flycast-directory.ts';
import { openSqliteStore } from '../../../store/index.ts';
import { PeerDirectory } from '../peer-directory.ts';

const path = process.argv[2];
if (path === undefined) throw new Error('usage: gateway-dns.ts <store.db>');
const store = await openSqliteStore({ path, pollIntervalMs: 20 });
const peers = new PeerDirectory(store);
await peers.start();
const flycast = new FlycastDirectory(store);
await flycast.start();
const dns = await startDnsServer({
  store,
  host: DNS_PRIVATE_ADDRESS,
  port: 53,
  region: 'ams',
  upstream: null,
  rateLimit: false,
  peers: peers.txt,
  flycast: (app) => flycast.addressesOf(app),
});
process.stdout.write('ready\n');
process.once('SIGTERM', () => {
  void (async () => {
    await dns.close();
    peers.stop();
    flycast.stop();
    await store.close();
    process.exit(0);
  })();
});
