import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect as h2connect, type ClientHttp2Session } from 'node:http2';
import { request as httpsRequest } from 'node:https';
import { connect as tlsConnect, type PeerCertificate } from 'node:tls';
import { after, before, test } from 'node:test';
import { send } from '../testing/client.ts';
import { fakeApp, fakeMachine, startBackend, type Backend } from '../testing/fixtures.ts';
import { startProxyWorld, type ProxyWorld } from '../testing/world.ts';
import { MemoryCertStore } from '../tls/cert-store.ts';

let backend: Backend;
let world: ProxyWorld;
let tlsPort: number;
const certs = new MemoryCertStore();

before(async () => {
  backend = await startBackend();
  world = await startProxyWorld(
    (store) => {
      store.putApp(fakeApp('web'));
      store.putApp(fakeApp('api'));
      store.putApp(fakeApp('secure'));
      store.putMachine(fakeMachine('web', backend.port, 'started', 'm-web'));
      store.putMachine(fakeMachine('api', backend.port, 'started', 'm-api'));
      const forced = fakeMachine('secure', backend.port, 'started', 'm-secure');
      forced.config.services = [{ protocol: 'tcp', internal_port: backend.port, ports: [{ port: 80, handlers: ['http'], force_https: true }] }];
      store.putMachine(forced);
    },
    { tls: { port: 0, certs } },
  );
  tlsPort = world.ports.tlsPort ?? 0;
});

after(async () => {
  await world.close();
  await backend.close();
});

/** The certificate the TLS port presents for `servername`. */
async function peerCert(port: number, servername: string): Promise<PeerCertificate> {
  const socket = tlsConnect({ host: '127.0.0.1', port, servername, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] });
  try {
    await once(socket, 'secureConnect');
    return socket.getPeerCertificate();
  } finally {
    socket.destroy();
  }
}

test('listen reports the TLS port', () => {
  assert.ok(tlsPort > 0);
});

test('SNI gives each app its own certificate (self-signed on first use, then kept)', async () => {
  const web = await peerCert(tlsPort, 'web.localhost');
  const api = await peerCert(tlsPort, 'api.localhost');
  assert.equal(web.subject.CN, 'web.localhost');
  assert.equal(api.subject.CN, 'api.localhost');
  assert.equal(web.subjectaltname, 'DNS:web.localhost');
  assert.notEqual(web.fingerprint256, api.fingerprint256);
  // Stored, and the same certificate on the next handshake.
  assert.ok((await certs.get('web.localhost'))?.cert.includes('BEGIN CERTIFICATE'));
  assert.equal((await peerCert(tlsPort, 'web.localhost')).fingerprint256, web.fingerprint256);
});

test('a stored certificate wins over the self-signed fallback; unknown names get no handshake', async () => {
  const { selfSignedCert } = await import('../tls/self-signed.ts');
  await certs.put('*.example.test', await selfSignedCert('*.example.test'));
  assert.equal((await peerCert(tlsPort, 'shop.example.test')).subject.CN, '*.example.test');
  await assert.rejects(peerCert(tlsPort, 'nope.localhost'), /alert|socket|ECONNRESET/i);
  assert.equal(await certs.get('nope.localhost'), undefined);
});

test('HTTPS over HTTP/1.1 reaches the backend with the TLS forwarding headers', async () => {
  const seen = await new Promise<{ headers: Record<string, string> }>((resolve, reject) => {
    const req = httpsRequest(
      { host: '127.0.0.1', port: tlsPort, servername: 'web.localhost', headers: { host: 'web.localhost' }, path: '/x?y=1', rejectUnauthorized: false, agent: false },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve(JSON.parse(text) as { headers: Record<string, string> }));
      },
    );
    req.on('error', reject);
    req.end();
  });
  assert.equal(seen.headers['x-forwarded-proto'], 'https');
  assert.equal(seen.headers['x-forwarded-ssl'], 'on');
  assert.equal(seen.headers['fly-forwarded-port'], String(tlsPort));
  assert.equal(seen.headers['host'], 'web.localhost');
});

test('an HTTP/2 client (ALPN h2) gets answers from the HTTP/1.1 backend', async () => {
  const session: ClientHttp2Session = h2connect(`https://127.0.0.1:${tlsPort}`, { servername: 'api.localhost', rejectUnauthorized: false });
  try {
    await once(session, 'connect');
    assert.equal(session.alpnProtocol, 'h2');
    const get = (path: string, body?: string): Promise<{ status: number; headers: Record<string, unknown>; text: string }> =>
      new Promise((resolve, reject) => {
        const stream = session.request({ ':method': body === undefined ? 'GET' : 'POST', ':path': path, ':authority': 'api.localhost' });
        let status = 0;
        let headers: Record<string, unknown> = {};
        let text = '';
        stream.on('response', (h) => {
          status = Number(h[':status']);
          headers = h;
        });
        stream.setEncoding('utf8');
        stream.on('data', (c: string) => (text += c));
        stream.on('end', () => resolve({ status, headers, text }));
        stream.on('error', reject);
        stream.end(body);
      });
    // Two streams at once on the one connection.
    const [a, b] = await Promise.all([get('/one?q=1'), get('/two', 'hello')]);
    assert.equal(a.status, 200);
    const seenA = JSON.parse(a.text) as { method: string; url: string; headers: Record<string, string> };
    assert.equal(seenA.url, '/one?q=1');
    assert.equal(seenA.headers['host'], 'api.localhost');
    assert.equal(seenA.headers['x-forwarded-proto'], 'https');
    assert.ok(!Object.keys(seenA.headers).some((name) => name.startsWith(':')), 'no pseudo-headers reach the backend');
    assert.ok(typeof a.headers['fly-request-id'] === 'string');
    const seenB = JSON.parse(b.text) as { method: string; bodyLength: number };
    assert.equal(seenB.method, 'POST');
    assert.equal(seenB.bodyLength, 5);
  } finally {
    session.close();
  }
});

test('force_https answers 301 to https with path and query; other apps and TLS requests are served', async () => {
  const res = await send(world.port, { host: 'secure.localhost:8080', path: '/a/b?c=d' });
  assert.equal(res.status, 301);
  assert.equal(res.headers['location'], `https://secure.localhost:${tlsPort}/a/b?c=d`);
  assert.equal((await send(world.port, { host: 'web.localhost' })).status, 200);
  const status = await new Promise<number>((resolve, reject) => {
    const req = httpsRequest(
      { host: '127.0.0.1', port: tlsPort, servername: 'secure.localhost', headers: { host: 'secure.localhost' }, rejectUnauthorized: false, agent: false },
      (r) => {
        r.resume();
        r.on('end', () => resolve(r.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end();
  });
  assert.equal(status, 200);
});

test('close lets an HTTP/2 stream in flight finish, and frees idle HTTP/1.1 connections at once', async () => {
  const { createProxy } = await import('../server.ts');
  const { FakeStore } = await import('../testing/fake-store.ts');
  let release: () => void = () => {};
  let arrived: () => void = () => {};
  const inBackend = new Promise<void>((resolve) => (arrived = resolve));
  const slow = await startBackend((_req, res) => {
    release = () => res.end('late');
    arrived();
  });
  const store = new FakeStore();
  store.putApp(fakeApp('slow'));
  store.putMachine(fakeMachine('slow', slow.port, 'started', 'm-slow'));
  const proxy = createProxy({ store, port: 0, tls: { port: 0 }, closeGraceMs: 10_000 });
  const ports = await proxy.listen();
  const { Agent: HttpsAgent } = await import('node:https');
  const agent = new HttpsAgent({ keepAlive: true, rejectUnauthorized: false, servername: 'slow.localhost' });
  const session = h2connect(`https://127.0.0.1:${ports.tlsPort}`, { servername: 'slow.localhost', rejectUnauthorized: false });
  try {
    await once(session, 'connect');
    const stream = session.request({ ':path': '/', ':authority': 'slow.localhost' });
    stream.setEncoding('utf8');
    let text = '';
    stream.on('data', (c: string) => (text += c));
    const ended = once(stream, 'end');
    await inBackend;
    // An idle keep-alive HTTPS connection must not hold close() for its timeout.
    const idle = await new Promise<number>((resolve, reject) => {
      const req = httpsRequest({ host: '127.0.0.1', port: ports.tlsPort, headers: { host: 'nope.localhost' }, agent }, (r) => {
        r.resume();
        r.on('end', () => resolve(r.statusCode ?? 0));
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(idle, 404);
    const started = Date.now();
    const closing = proxy.close();
    release();
    await ended;
    assert.equal(text, 'late');
    await closing;
    assert.ok(Date.now() - started < 5000, 'close did not wait for the grace');
  } finally {
    session.destroy();
    agent.destroy();
    await slow.close();
  }
});

test('HTTPS over HTTP/1.1 keeps the plain port’s guards: oversized headers get 431', async () => {
  const socket = tlsConnect({ host: '127.0.0.1', port: tlsPort, servername: 'web.localhost', rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] });
  await once(socket, 'secureConnect');
  socket.write(`GET / HTTP/1.1\r\nHost: web.localhost\r\nX-Big: ${'a'.repeat(20 * 1024)}\r\n\r\n`);
  let text = '';
  socket.setEncoding('utf8');
  socket.on('data', (c: string) => (text += c));
  await once(socket, 'close');
  assert.match(text, /^HTTP\/1\.1 431 /);
});
