import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { DirCertStore, MemoryCertStore, type CertStore } from './cert-store.ts';
import { selfSignedCert } from './self-signed.ts';
import { SniResolver } from './sni.ts';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'aloft-certs-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('self-signed certificates name the host in CN and SAN and are valid now', async () => {
  const pair = await selfSignedCert('web.example.com');
  const cert = new X509Certificate(pair.cert);
  assert.equal(cert.subject, 'CN=web.example.com');
  assert.equal(cert.subjectAltName, 'DNS:web.example.com');
  assert.ok(new Date(cert.validFrom) < new Date() && new Date(cert.validTo) > new Date());
  assert.ok(cert.checkPrivateKey((await import('node:crypto')).createPrivateKey(pair.key)));
});

for (const [kind, make] of [
  ['memory', () => new MemoryCertStore()],
  ['directory', () => new DirCertStore(join(dir, 'store'))],
] as const) {
  test(`${kind} store: put then get; unknown is undefined; names must be DNS names`, async () => {
    const store: CertStore = make();
    const pair = await selfSignedCert('a.example.com');
    assert.equal(await store.get('a.example.com'), undefined);
    await store.put('a.example.com', pair);
    assert.deepEqual(await store.get('a.example.com'), pair);
    await assert.rejects(store.put('../etc/passwd', pair), /Cannot store certificate as 'name' must be a lowercase DNS name/);
  });
}

test('the directory store keeps keys 0600 and leaves no temp files', async () => {
  const store = new DirCertStore(join(dir, 'perm'));
  await store.put('*.example.com', await selfSignedCert('*.example.com'));
  const key = await stat(join(dir, 'perm', '*.example.com.key'));
  assert.equal(key.mode & 0o777, 0o600);
  assert.deepEqual((await readdir(join(dir, 'perm'))).sort(), ['*.example.com.crt', '*.example.com.key']);
});

test('SNI: concurrent handshakes for a new name make one certificate; refused names make none', async () => {
  let made = 0;
  const store = new MemoryCertStore();
  const sni = new SniResolver({
    store,
    allowSelfSigned: (name) => name.endsWith('.ok.test'),
    selfSigned: (name) => {
      made += 1;
      return selfSignedCert(name);
    },
    cacheSize: 1,
  });
  const [a, b] = await Promise.all([sni.context('x.ok.test'), sni.context('X.ok.test')]);
  assert.equal(a, b);
  assert.equal(made, 1);
  await assert.rejects(sni.context('evil.test'), /no certificate for TLS server name "evil.test"/);
  // Past the cache bound the context is rebuilt from the store, not made again.
  await sni.context('y.ok.test');
  await sni.context('x.ok.test');
  assert.equal(made, 2);
});
