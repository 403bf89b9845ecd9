import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../src/lib/testing/free-port.ts';
import { openSqliteStore } from '../../src/store/index.ts';
import { startTestEtcd } from '../../src/store/etcd/testing.ts';
import { openStoreFromUrl } from '../../src/store/open-store.ts';
import { sampleApp, sampleMachine } from '../../src/store/testing.ts';
import { fails, runAloft } from './cli-runner.ts';

const aloft = fileURLToPath(new URL('../../bin/aloft.js', import.meta.url));
let dataDir: string;
let upstream: Server;

before(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'aloft-proxy-cli-'));
  upstream = createServer((req, res) => res.end(`hello from ${req.headers['fly-region']}`));
  upstream.listen(0, '127.0.0.1');
  await once(upstream, 'listening');
  const store = await openSqliteStore({ path: join(dataDir, 'aloft.db') });
  await store.createApp(sampleApp({ name: 'web' }));
  await store.createMachine(webMachine());
  await store.close();
});
after(async () => {
  upstream.close();
  await rm(dataDir, { recursive: true, force: true });
});

/** The app's one started Machine, with the upstream as its HTTP service. */
function webMachine(): ReturnType<typeof sampleMachine> {
  return sampleMachine({
    appName: 'web',
    state: 'started',
    addresses: { ipv4: '127.0.0.1', ipv6: 'fdaa::1' },
    config: { image: 'x', services: [{ protocol: 'tcp', internal_port: (upstream.address() as AddressInfo).port, ports: [{ port: 80, handlers: ['http'] }] }] },
  });
}

function get(port: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/', headers: { host: 'web.localhost' }, agent: false }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('aloft proxy --workers 2 serves a data dir’s apps from two processes and stops them all on SIGINT', async () => {
  const port = await freePort();
  const child = spawn(process.execPath, [aloft, 'proxy', '--data-dir', dataDir, '--port', String(port), '--no-tls', '--workers', '2', '--autostop-interval', '0', '--region', 'ams'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  try {
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    while (!out.includes('aloft proxy is up')) {
      if (child.exitCode !== null) assert.fail(`aloft proxy exited early:\n${out}`);
      await once(child.stdout, 'data');
    }
    assert.match(out, /2 workers/);
    const answer = await get(port);
    assert.equal(answer.status, 200);
    assert.equal(answer.body, 'hello from ams');
    const workers = await childPids(child.pid!);
    assert.equal(workers.length, 2, `two worker processes: ${workers.join(', ')}`);
    child.kill('SIGINT');
    const [code] = (await once(child, 'exit')) as [number | null];
    assert.equal(code, 0);
    for (const pid of workers) assert.equal(alive(pid), false, `worker ${pid} is gone`);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
});

test('aloft proxy refuses several workers with autostop on, and a bad worker count', async () => {
  fails(await runAloft(['proxy', '--data-dir', dataDir, '--workers', '2'], {}), /'workers' must be 1 while autostop is on/);
  fails(await runAloft(['proxy', '--data-dir', dataDir, '--workers', '0', '--autostop-interval', '0'], {}), /'workers' must be an integer from 1 to 256: got 0/);
});

async function childPids(pid: number): Promise<number[]> {
  const text = await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8');
  return text.trim().split(/\s+/).filter(Boolean).map(Number);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('aloft proxy --store etcd://… routes by a Machine written to etcd by another process', async () => {
  const etcd = await startTestEtcd();
  const port = await freePort();
  const url = `etcd://${etcd.endpoints[0]!.replace('http://', '')}/proxy-cli`;
  const child = spawn(process.execPath, [aloft, 'proxy', '--data-dir', dataDir, '--store', url, '--port', String(port), '--no-tls', '--autostop-interval', '0', '--region', 'ams'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const writer = await openStoreFromUrl(url);
  try {
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    while (!out.includes('aloft proxy is up')) {
      if (child.exitCode !== null) assert.fail(`aloft proxy exited early:\n${out}`);
      await once(child.stdout, 'data');
    }
    await writer.createApp(sampleApp({ name: 'web' }));
    await writer.createMachine(webMachine());
    // The write reaches the proxy through etcd's watch: ask until it routes.
    const deadline = Date.now() + 10_000;
    let answer = await get(port);
    while (answer.status !== 200 && Date.now() < deadline) answer = await get(port);
    assert.equal(answer.status, 200);
    assert.equal(answer.body, 'hello from ams');
  } finally {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
    await writer.close();
    await etcd.stop();
  }
});
