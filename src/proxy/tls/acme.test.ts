import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { Agent as HttpsAgent } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { after, before, test } from 'node:test';
import * as acme from 'acme-client';
import { createProxy, type Proxy } from '../server.ts';
import { FakeStore } from '../testing/fake-store.ts';
import { fakeApp, fakeMachine, freePort, startBackend, type Backend } from '../testing/fixtures.ts';
import { MemoryCertStore } from './cert-store.ts';
import { selfSignedCert } from './self-signed.ts';

// Debian's `pebble` package (pebble and pebble-challtestsrv): a test ACME CA.
const hasPebble = spawnSync('pebble', ['-h']).error === undefined;
const skip = hasPebble ? false : 'needs the Debian package pebble (apt-get install pebble)';

let dir: string;
const children: ChildProcess[] = [];
let proxy: Proxy;
let backend: Backend;
let tlsPort = 0;
const certs = new MemoryCertStore();

/** Starts `command` and resolves once its output shows `ready`. */
async function startUntil(command: string, args: string[], ready: RegExp, env: NodeJS.ProcessEnv = {}): Promise<void> {
  const child = spawn(command, args, { cwd: dir, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let seen = '';
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      seen += chunk.toString();
      if (ready.test(seen)) resolve();
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${command} exited ${code}: ${seen}`)));
  });
}

before(async () => {
  if (!hasPebble) return;
  dir = await mkdtemp(join(tmpdir(), 'aloft-acme-'));
  backend = await startBackend();
  const store = new FakeStore();
  store.putApp(fakeApp('web'));
  store.putMachine(fakeMachine('web', backend.port, 'started', 'm-web'));
  const [dnsPort, acmePort, mgmtPort, challMgmtPort] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  proxy = createProxy({ store, port: 0, tls: { port: 0, certs, acme: { directoryUrl: `https://localhost:${acmePort}/dir` } } });
  const ports = await proxy.listen();
  tlsPort = ports.tlsPort ?? 0;
  // Pebble serves its API over TLS: a certificate for localhost that this process trusts.
  const own = await selfSignedCert('localhost');
  await writeFile(join(dir, 'cert.pem'), own.cert);
  await writeFile(join(dir, 'key.pem'), own.key, { mode: 0o600 });
  await writeFile(
    join(dir, 'pebble.json'),
    JSON.stringify({
      pebble: {
        listenAddress: `127.0.0.1:${acmePort}`,
        managementListenAddress: `127.0.0.1:${mgmtPort}`,
        certificate: 'cert.pem',
        privateKey: 'key.pem',
        // HTTP-01 validation connects to the proxy's plain port.
        httpPort: ports.port,
        tlsPort: 5001,
        ocspResponderURL: '',
        externalAccountBindingRequired: false,
      },
    }),
  );
  // Every name resolves to 127.0.0.1 for pebble's validation.
  await startUntil(
    'pebble-challtestsrv',
    ['-dns01', `127.0.0.1:${dnsPort}`, '-http01', '', '-https01', '', '-tlsalpn01', '', '-management', `127.0.0.1:${challMgmtPort}`, '-defaultIPv4', '127.0.0.1', '-defaultIPv6', ''],
    /Starting management server/,
  );
  await startUntil('pebble', ['-config', 'pebble.json', '-dnsserver', `127.0.0.1:${dnsPort}`], /ACME directory available/, {
    PEBBLE_VA_NOSLEEP: '1',
    PEBBLE_WFE_NONCEREJECT: '0',
    PEBBLE_AUTHZREUSE: '0',
  });
  // acme-client's HTTP client is module-wide; only this test's CA needs a custom trust.
  acme.axios.defaults.httpsAgent = new HttpsAgent({ ca: own.cert });
});

after(async () => {
  if (!hasPebble) return;
  await proxy.close();
  await backend.close();
  for (const child of children) {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
  }
  await rm(dir, { recursive: true, force: true });
});

test('a certificate issued by the ACME CA (HTTP-01 on the plain port) is served over SNI', { skip }, async () => {
  const before = await peerIssuer('web.localhost');
  assert.equal(before, 'web.localhost', 'self-signed until issued');
  await proxy.issueCertificate('web.localhost');
  assert.match(await peerIssuer('web.localhost'), /^Pebble Intermediate CA/);
  const stored = await certs.get('web.localhost');
  assert.ok(stored?.cert.includes('BEGIN CERTIFICATE'));
});

test('issueCertificate without tls.acme, and bad tls/tcp options, are clear errors', async () => {
  const plain = createProxy({ store: new FakeStore(), port: 0 });
  await assert.rejects(plain.issueCertificate('a.localhost'), /Cannot issue certificate as 'tls.acme' must be set/);
  await plain.close();
  assert.throws(() => createProxy({ store: new FakeStore(), port: 0, tls: { acme: { directoryUrl: 'ftp://x' } } }), /Cannot start proxy as 'tls.acme.directoryUrl' must be an http\(s\) URL/);
  assert.throws(() => createProxy({ store: new FakeStore(), port: 0, tls: { port: 70000 } }), /Cannot start proxy as 'tls.port' must be an integer from 0 to 65535: got 70000/);
  assert.throws(() => createProxy({ store: new FakeStore(), port: 0, tcp: [{ app: 'db', port: 0 }] }), /Cannot start proxy as 'tcp\[\].port' must be an integer from 1 to 65535: got 0/);
});

/** The issuer CN of the certificate the TLS port presents for `servername`. */
async function peerIssuer(servername: string): Promise<string> {
  const socket = tlsConnect({ host: '127.0.0.1', port: tlsPort, servername, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] });
  try {
    await once(socket, 'secureConnect');
    return String(socket.getPeerCertificate().issuer.CN);
  } finally {
    socket.destroy();
  }
}
