import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { Resolver } from 'node:dns/promises';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { startFakeUpstream } from '../../src/dns/testing/fake-upstream.ts';
import { addLoopbackAddress, dnsMachine, seedTwoOrgs } from '../../src/dns/testing/fixtures.ts';
import { openSqliteStore } from '../../src/store/index.ts';
import { fails, runAloft } from './cli-runner.ts';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'aloft.js');

test('aloft dns refuses a bad port or upstream in one line', async () => {
  fails(await runAloft(['dns', '--port', '70000'], {}), /Cannot start DNS as 'port' must be a port number from 0 to 65535: got 70000/);
  fails(await runAloft(['dns', '--upstream', 'dns.google'], {}), /Cannot configure DNS as 'upstream' must be an IP address/);
});

test('aloft dns serves a data dir written by another process, forwards the rest, and stops on SIGTERM', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'aloft-cli-dns-'));
  const upstream = await startFakeUpstream({ kind: 'answer' });
  const writer = await openSqliteStore({ path: join(dir, 'aloft.db') });
  const nets = await seedTwoOrgs(writer);
  const child = spawn(process.execPath, [BIN, 'dns', '--data-dir', dir, '--host', '::1', '--port', '0', '--upstream', `127.0.0.1:${upstream.port}`], {
    env: { ...process.env, NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let removeAddress: (() => Promise<void>) | undefined;
  try {
    const port = await new Promise<number>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const match = /is up on \[::1\]:(\d+) \(udp, tcp\)/.exec(out);
        if (match) resolve(Number(match[1]));
      });
      child.once('exit', (code) => reject(new Error(`aloft dns exited ${String(code)}: ${out}`)));
    });
    const r = new Resolver({ timeout: 2000, tries: 1 });
    r.setServers([`[::1]:${port}`]);
    assert.deepEqual(await r.resolve4('example.com'), ['192.0.2.1']);
    await assert.rejects(r.resolve6('web.internal'), { code: 'ENOTFOUND' }, 'loopback is no org');
    if (process.getuid?.() === 0) {
      // A Machine started by "the platform" (this process), asked for from its own address.
      const machine = await writer.createMachine(dnsMachine('web', nets.acme));
      const source = machine.addresses!.ipv6;
      removeAddress = await addLoopbackAddress(source);
      const from = new Resolver({ timeout: 2000, tries: 1 });
      from.setLocalAddress('127.0.0.1', source);
      from.setServers([`[::1]:${port}`]);
      // The server polls the file for other processes' commits (50 ms): ask until it has seen it.
      const deadline = Date.now() + 2000;
      let answer: string[] = [];
      while (Date.now() < deadline) {
        answer = await from.resolve6('web.internal').catch(() => []);
        if (answer.length > 0) break;
      }
      assert.deepEqual(answer, [source]);
    }
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    await removeAddress?.();
    await writer.close();
    await upstream.close();
    await rm(dir, { recursive: true, force: true });
  }
});
