import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { after, before, test } from 'node:test';
import type { Machine } from '../../model/index.ts';
import { fakeApp, fakeMachine } from '../testing/fixtures.ts';
import { startProxyWorld, type ProxyWorld } from '../testing/world.ts';

/** What the backend learnt from a connection's PROXY header. */
interface Seen {
  version: 0 | 1 | 2;
  source?: string;
  sourcePort?: number;
  destination?: string;
  destinationPort?: number;
}

/** Parses a PROXY v1 line or v2 block at the start of `buf` (haproxy's proxy-protocol.txt), independently of the proxy's writer. */
function parseProxy(buf: Buffer): { seen: Seen; rest: Buffer } | undefined {
  const v2sig = Buffer.from('0d0a0d0a000d0a515549540a', 'hex');
  if (buf.length >= 16 && buf.subarray(0, 12).equals(v2sig)) {
    const length = buf.readUInt16BE(14);
    if (buf.length < 16 + length) return undefined;
    assert.equal(buf[12], 0x21, 'v2 PROXY command');
    assert.equal(buf[13], 0x11, 'TCP over IPv4');
    const ip = (at: number): string => [...buf.subarray(at, at + 4)].join('.');
    return {
      seen: { version: 2, source: ip(16), destination: ip(20), sourcePort: buf.readUInt16BE(24), destinationPort: buf.readUInt16BE(26) },
      rest: buf.subarray(16 + length),
    };
  }
  if (buf.subarray(0, 6).toString() === 'PROXY ') {
    const end = buf.indexOf('\r\n');
    if (end === -1) return undefined;
    const [, proto, source, destination, sp, dp] = buf.subarray(0, end).toString().split(' ');
    assert.equal(proto, 'TCP4');
    return {
      seen: { version: 1, source: source!, destination: destination!, sourcePort: Number(sp), destinationPort: Number(dp) },
      rest: buf.subarray(end + 2),
    };
  }
  return { seen: { version: 0 }, rest: buf };
}

/** An echo server that first reads any PROXY header, then answers `<what it saw as JSON>\n` and echoes the rest. */
let backend: Server;
let backendPort = 0;
let world: ProxyWorld;

before(async () => {
  backend = createServer((socket) => {
    let buf = Buffer.alloc(0);
    let parsed = false;
    socket.on('data', (chunk: Buffer) => {
      if (parsed) return void socket.write(chunk);
      buf = Buffer.concat([buf, chunk]);
      const result = parseProxy(buf);
      if (result === undefined) return;
      parsed = true;
      socket.write(`${JSON.stringify(result.seen)}\n`);
      if (result.rest.length > 0) socket.write(result.rest);
    });
    socket.on('end', () => socket.end());
  });
  await new Promise<void>((resolve) => backend.listen(0, '127.0.0.1', resolve));
  backendPort = (backend.address() as AddressInfo).port;
  const machine = (id: string, ports: Record<string, unknown>[]): Machine => {
    const m = fakeMachine('db', backendPort, 'started', id);
    m.config.services = [
      { protocol: 'tcp', internal_port: backendPort, ports: [{ port: 80, handlers: ['http'] }] },
      { protocol: 'tcp', internal_port: backendPort, ports },
    ];
    return m;
  };
  world = await startProxyWorld(
    (store) => {
      store.putApp(fakeApp('db'));
      store.putMachine(
        machine('m-db', [
          { port: 5432, handlers: [] },
          { port: 6001, handlers: ['proxy_proto'] },
          { port: 6002, handlers: ['proxy_proto'], proxy_proto_options: { version: 'v2' } },
          { port: 6003, handlers: ['tls'] },
        ]),
      );
    },
    {
      tls: { port: 0 },
      tcp: [
        { app: 'db', port: 5432, listenPort: 0 },
        { app: 'db', port: 6001, listenPort: 0 },
        { app: 'db', port: 6002, listenPort: 0 },
        { app: 'db', port: 6003, listenPort: 0 },
        { app: 'db', port: 7000, listenPort: 0 },
      ],
    },
  );
});

after(async () => {
  await world.close();
  await new Promise<void>((resolve) => backend.close(() => resolve()));
});

const portOf = (service: number): number => world.ports.tcpPorts?.[`db:${service}`] ?? 0;

/** Sends `text` on `socket` and reads until the reply ends with it. */
async function exchange(socket: Socket, text: string): Promise<string> {
  let got = '';
  socket.setEncoding('utf8');
  const done = new Promise<string>((resolve, reject) => {
    socket.on('data', (chunk: string) => {
      got += chunk;
      if (got.endsWith(text)) resolve(got);
    });
    socket.on('error', reject);
  });
  socket.write(text);
  return done;
}

test('a port with no handlers is raw TCP: bytes echo through, counted as a connection while open', async () => {
  const socket = connect(portOf(5432), '127.0.0.1');
  await once(socket, 'connect');
  const reply = await exchange(socket, 'ping');
  assert.equal(reply, '{"version":0}\nping');
  assert.equal(world.proxy.balancer.loads.connections('m-db'), 1);
  socket.end();
  await once(socket, 'close');
});

test('proxy_proto sends a PROXY v1 line with the client and edge addresses first', async () => {
  const socket = connect(portOf(6001), '127.0.0.1');
  await once(socket, 'connect');
  const reply = await exchange(socket, 'hi');
  const seen = JSON.parse(reply.slice(0, reply.indexOf('\n'))) as Seen;
  assert.deepEqual(seen, { version: 1, source: '127.0.0.1', destination: '127.0.0.1', sourcePort: socket.localPort, destinationPort: portOf(6001) });
  assert.equal(reply.slice(reply.indexOf('\n') + 1), 'hi');
  socket.destroy();
});

test('proxy_proto_options.version v2 sends the binary header', async () => {
  const socket = connect(portOf(6002), '127.0.0.1');
  await once(socket, 'connect');
  const reply = await exchange(socket, 'yo');
  const seen = JSON.parse(reply.slice(0, reply.indexOf('\n'))) as Seen;
  assert.deepEqual(seen, { version: 2, source: '127.0.0.1', destination: '127.0.0.1', sourcePort: socket.localPort, destinationPort: portOf(6002) });
  socket.destroy();
});

test('the tls handler alone terminates TLS (certificate by SNI), then raw TCP', async () => {
  const socket = tlsConnect({ host: '127.0.0.1', port: portOf(6003), servername: 'db.localhost', rejectUnauthorized: false });
  await once(socket, 'secureConnect');
  assert.equal(socket.getPeerCertificate().subject.CN, 'db.localhost');
  const reply = await exchange(socket, 'secret');
  assert.equal(reply, '{"version":0}\nsecret');
  socket.destroy();
});

test('a service port no started machine has is refused by closing the connection', async () => {
  const socket = connect(portOf(7000), '127.0.0.1');
  socket.resume();
  await once(socket, 'close');
});
