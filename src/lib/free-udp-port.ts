import { createSocket } from 'node:dgram';
import { once } from 'node:events';

/**
 * A UDP port free on every address right now (bound on `::`, then released), for a
 * wireguard-go told to listen on "any free one". It may be taken again before use: the
 * caller's bind reports that.
 */
export async function freeUdpPort(): Promise<number> {
  const socket = createSocket('udp6');
  socket.bind(0, '::');
  await once(socket, 'listening');
  const { port } = socket.address();
  socket.close();
  return port;
}
