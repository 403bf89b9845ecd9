import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { Resolver } from 'node:dns/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { addLoopbackAddress, dnsMachine, seedTwoOrgs } from '../../src/dns/testing/fixtures.ts';
import { startTestEtcd } from '../../src/store/etcd/testing.ts';
import { openStoreFromUrl } from '../../src/store/open-store.ts';
import { fails, runAloft } from './cli-runner.ts';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'aloft.js');

test('aloft dns refuses a store URL it cannot open in one line', async () => {
  fails(await runAloft(['dns', '--store', 'mysql://db:3306', '--port', '0', '--host', '::1'], {}), /Cannot open the store as 'store' must be a URL "sqlite:\/abs\/path\/aloft.db" or "etcd:\/\/host:port/);
});

// Cluster mode: `aloft dns` on a host answers from the cluster's etcd, where the API
// and agents (here: this test) write the Machines.
test('aloft dns --store etcd://… answers AAAA for a Machine written to etcd by another process', { skip: process.getuid?.() !== 0 && 'needs root (a 6PN source address on lo)' }, async () => {
  const etcd = await startTestEtcd();
  const url = `etcd://${etcd.endpoints[0]!.replace('http://', '')}/dns-cli`;
  const writer = await openStoreFromUrl(url);
  const nets = await seedTwoOrgs(writer);
  const child = spawn(process.execPath, [BIN, 'dns', '--store', url, '--host', '::1', '--port', '0', '--no-forward'], {
    env: { ...process.env, NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let removeAddress: (() => Promise<void>) | undefined;
  try {
    const port = await new Promise<number>((resolve, reject) => {
      let out = '';
      const onData = (chunk: Buffer): void => {
        out += chunk.toString();
        const match = /is up on \[::1\]:(\d+) \(udp, tcp\); \.internal from etcd:\/\//.exec(out);
        if (match) resolve(Number(match[1]));
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      child.once('exit', (code) => reject(new Error(`aloft dns exited ${String(code)}: ${out}`)));
    });
    // Written after the server is up, so the answer can only come through etcd's watch.
    const machine = await writer.createMachine(dnsMachine('web', nets.acme));
    const source = machine.addresses!.ipv6;
    removeAddress = await addLoopbackAddress(source);
    const from = new Resolver({ timeout: 2000, tries: 1 });
    from.setLocalAddress('127.0.0.1', source);
    from.setServers([`[::1]:${port}`]);
    const deadline = Date.now() + 10_000;
    let answer: string[] = [];
    while (answer.length === 0 && Date.now() < deadline) answer = await from.resolve6('web.internal').catch(() => []);
    assert.deepEqual(answer, [source]);
    // Another org's app stays hidden, as with SQLite.
    await assert.rejects(from.resolve6('secret.internal'), { code: 'ENOTFOUND' });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
  } finally {
    if (child.exitCode === null) {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
    await removeAddress?.();
    await writer.close();
    await etcd.stop();
  }
});
