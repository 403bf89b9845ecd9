import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import { after, before, test } from 'node:test';
import { fakeApp, fakeMachine, freePort } from '../testing/fixtures.ts';
import { startProxyWorld, type ProxyWorld } from '../testing/world.ts';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const accept = (key: string): string => createHash('sha1').update(key + GUID).digest('base64');

/** A text frame: masked from a client, unmasked from a server (RFC 6455 §5.2; payload < 126). */
function frame(text: string, masked: boolean): Buffer {
  const payload = Buffer.from(text);
  const mask = masked ? randomBytes(4) : undefined;
  const head = Buffer.from([0x81, (masked ? 0x80 : 0) | payload.length]);
  if (mask === undefined) return Buffer.concat([head, payload]);
  return Buffer.concat([head, mask, payload.map((b, i) => b ^ mask[i % 4]!)]);
}

/** Reads one small frame's text from `buf`, unmasking it if needed. */
function unframe(buf: Buffer): { opcode: number; text: string } {
  const masked = (buf[1]! & 0x80) !== 0;
  const length = buf[1]! & 0x7f;
  const mask = masked ? buf.subarray(2, 6) : undefined;
  const data = buf.subarray(masked ? 6 : 2, (masked ? 6 : 2) + length);
  return { opcode: buf[0]! & 0x0f, text: Buffer.from(data.map((b, i) => (mask === undefined ? b : b ^ mask[i % 4]!))).toString() };
}

/** A WebSocket echo server: checks the handshake, answers 101, echoes each text frame with "echo: ". */
let backend: Server;
let upgraded: IncomingMessage | undefined;
let backendClosed: Promise<void> = Promise.resolve();
let world: ProxyWorld;

before(async () => {
  backend = createServer((_req, res) => res.end('not a websocket'));
  backend.on('upgrade', (req: IncomingMessage, socket: Duplex) => {
    upgraded = req;
    const key = req.headers['sec-websocket-key'];
    if (req.headers.upgrade?.toLowerCase() !== 'websocket' || typeof key !== 'string') {
      socket.end('HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n');
      return;
    }
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept(key)}\r\n\r\n`);
    backendClosed = once(socket, 'close').then(() => undefined);
    // As WebSocket servers do: the peer's FIN ends the connection.
    socket.once('end', () => socket.end());
    socket.on('data', (chunk: Buffer) => {
      const { opcode, text } = unframe(chunk);
      if (opcode === 0x8) socket.end(Buffer.from([0x88, 0x00]));
      else socket.write(frame(`echo: ${text}`, false));
    });
  });
  await new Promise<void>((resolve) => backend.listen(0, '127.0.0.1', resolve));
  const port = (backend.address() as AddressInfo).port;
  const dead = await freePort();
  world = await startProxyWorld(
    (store) => {
      store.putApp(fakeApp('chat'));
      store.putApp(fakeApp('gone'));
      store.putMachine(fakeMachine('chat', port, 'started', 'm-chat'));
      store.putMachine(fakeMachine('gone', dead, 'started', 'm-gone'));
    },
    { tls: { port: 0 } },
  );
});

after(async () => {
  await world.close();
  backend.closeAllConnections();
  await new Promise<void>((resolve) => backend.close(() => resolve()));
});

/** Opens a raw connection to the proxy and sends an upgrade request; resolves with the response head and the socket. */
async function handshake(host: string, secure = false, key = randomBytes(16).toString('base64')): Promise<{ socket: Socket; head: string; rest: Buffer; key: string }> {
  const socket = secure
    ? tlsConnect({ host: '127.0.0.1', port: world.ports.tlsPort ?? 0, servername: host, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] })
    : connect(world.port, '127.0.0.1');
  await once(socket, secure ? 'secureConnect' : 'connect');
  socket.write(
    `GET /ws?room=1 HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  );
  let buf = Buffer.alloc(0);
  while (!buf.includes('\r\n\r\n')) {
    const [chunk] = (await once(socket, 'data')) as [Buffer];
    buf = Buffer.concat([buf, chunk]);
  }
  const end = buf.indexOf('\r\n\r\n') + 4;
  return { socket, head: buf.subarray(0, end).toString(), rest: buf.subarray(end), key };
}

test('a WebSocket upgrade is proxied: 101, frames echoed both ways, counted as a connection while open', async () => {
  const { socket, head, key } = await handshake('chat.localhost');
  assert.match(head, /^HTTP\/1\.1 101 /);
  assert.match(head, new RegExp(`Sec-WebSocket-Accept: ${accept(key).replace(/[+/]/g, '\\$&')}`, 'i'));
  assert.equal(upgraded?.url, '/ws?room=1');
  assert.equal(upgraded?.headers['fly-client-ip'], '127.0.0.1');
  assert.equal(upgraded?.headers['x-forwarded-proto'], 'http');
  assert.ok(typeof upgraded?.headers['fly-request-id'] === 'string');
  assert.equal(world.proxy.balancer.loads.connections('m-chat'), 1);

  socket.write(frame('hello', true));
  const [reply] = (await once(socket, 'data')) as [Buffer];
  assert.deepEqual(unframe(reply), { opcode: 1, text: 'echo: hello' });

  // Close handshake, then both sides close and the load is released.
  socket.write(Buffer.concat([Buffer.from([0x88, 0x80]), randomBytes(4)]));
  const [closing] = (await once(socket, 'data')) as [Buffer];
  assert.equal(closing[0], 0x88);
  await Promise.all([once(socket, 'close'), backendClosed]);
  const released = await waitFor(() => world.proxy.balancer.loads.connections('m-chat') === 0 && world.proxy.balancer.loads.requests('m-chat') === 0);
  assert.ok(released);
});

test('a client that vanishes closes the backend side too', async () => {
  const { socket } = await handshake('chat.localhost');
  const closed = backendClosed;
  socket.destroy();
  await closed;
  assert.ok(await waitFor(() => world.proxy.balancer.loads.connections('m-chat') === 0));
});

test('upgrades to unknown apps or unreachable machines get the proxy answers', async () => {
  const unknown = await handshake('nope.localhost');
  assert.match(unknown.head, /^HTTP\/1\.1 404 /);
  assert.match(unknown.head, /aloft-error: APP_NOT_FOUND/);
  unknown.socket.destroy();
  const gone = await handshake('gone.localhost');
  assert.match(gone.head, /^HTTP\/1\.1 502 /);
  assert.match(gone.head, /aloft-error: PROXY_BACKEND_UNREACHABLE/);
  gone.socket.destroy();
  assert.ok(await waitFor(() => world.proxy.balancer.loads.connections('m-gone') === 0));
});

/** Polls a condition on the event loop (the release runs on socket 'close' callbacks). */
async function waitFor(check: () => boolean): Promise<boolean> {
  for (let i = 0; i < 100; i++) {
    if (check()) return true;
    await new Promise((resolve) => setImmediate(resolve));
  }
  return check();
}

test('wss: the upgrade works over the TLS port too, with the https forwarding headers', async () => {
  const { socket, head } = await handshake('chat.localhost', true);
  assert.match(head, /^HTTP\/1\.1 101 /);
  assert.equal(upgraded?.headers['x-forwarded-proto'], 'https');
  socket.write(frame('over tls', true));
  const [reply] = (await once(socket, 'data')) as [Buffer];
  assert.deepEqual(unframe(reply), { opcode: 1, text: 'echo: over tls' });
  const closed = backendClosed;
  socket.end();
  await closed;
});
