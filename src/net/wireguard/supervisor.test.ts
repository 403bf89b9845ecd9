import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isAloftError } from '../../lib/errors.ts';
import { findWireguardGo } from './find-binary.ts';
import { WireguardSupervisor } from './supervisor.ts';
import { NetnsKit } from './testing/netns.ts';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('WireguardSupervisor (real wireguard-go in namespaces)', () => {
  const kit = new NetnsKit();
  const tag = randomBytes(3).toString('hex');
  const supervisors: WireguardSupervisor[] = [];
  let dir = '';
  let ns1 = '';
  let ns2 = '';

  /** A supervisor stopped by `after` whatever happens. */
  const supervise = (options: ConstructorParameters<typeof WireguardSupervisor>[0]): WireguardSupervisor => {
    const supervisor = new WireguardSupervisor(options);
    supervisors.push(supervisor);
    return supervisor;
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'aloft-wgsup-'));
    ns1 = await kit.netns(`awgs${tag}a`);
    ns2 = await kit.netns(`awgs${tag}b`);
  });

  after(async () => {
    for (const supervisor of supervisors) await supervisor.stop().catch(() => undefined);
    await kit.cleanup();
    await rm(dir, { recursive: true, force: true });
  });

  it('runs two daemons with the same interface name in two namespaces, each on its own socket', async () => {
    const ports = [41_001, 41_002];
    const pair = [ns1, ns2].map((netns, i) =>
      supervise({ iface: 'wgsame', netns, socketDir: join(dir, `host${i}`), onStart: (client) => client.set({ listenPort: ports[i]! }) }),
    );
    await Promise.all(pair.map((s) => s.start()));
    for (const [i, supervisor] of pair.entries()) {
      assert.equal((await supervisor.client.get()).listenPort, ports[i]);
      assert.equal(supervisor.socketPath, join(dir, `host${i}`, 'wgsame.sock'));
      // Only root reaches the socket: the directory is 0700 and wireguard-go makes the socket 0700.
      assert.equal((await stat(join(dir, `host${i}`))).mode & 0o777, 0o700);
      assert.equal((await stat(supervisor.socketPath)).mode & 0o777, 0o700);
      assert.ok(alive(supervisor.pid!));
    }
    // Nothing was put in the machine's own /var/run/wireguard.
    assert.equal(existsSync('/var/run/wireguard/wgsame.sock'), false);
    const links = JSON.parse(await kit.ip('-j', '-n', ns1, 'link', 'show', 'wgsame')) as { ifname: string; mtu: number }[];
    assert.equal(links[0]?.ifname, 'wgsame');
    for (const supervisor of pair) {
      const pid = supervisor.pid!;
      await supervisor.stop();
      assert.equal(alive(pid), false);
      assert.equal(existsSync(supervisor.socketPath), false);
      assert.equal(supervisor.pid, undefined);
    }
    // The tunnel interface went with its daemon.
    assert.equal((await kit.ip('-j', '-n', ns1, 'link', 'show')).includes('wgsame'), false);
  });

  it('restarts a daemon that dies, configures it again, then backs off while restarts fail', async () => {
    // A wrapper that runs wireguard-go once, then fails until the marker file is removed.
    const marker = join(dir, 'fail-marker');
    const wrapper = join(dir, 'wg-wrapper.sh');
    const real = await findWireguardGo();
    await writeFile(wrapper, `#!/bin/sh\nif [ -e "${marker}" ]; then echo refusing >&2; exit 3; fi\ntouch "${marker}"\nexec "${real}" "$@"\n`);
    await chmod(wrapper, 0o755);
    let configured = 0;
    const supervisor = supervise({
      iface: 'wgrestart',
      netns: ns1,
      socketDir: join(dir, 'restart'),
      binary: wrapper,
      backoff: { initialMs: 20, maxMs: 200 },
      onStart: async (client) => {
        configured++;
        await client.set({ listenPort: 41_003 });
      },
    });
    await supervisor.start();
    const firstPid = supervisor.pid!;
    const errors: Error[] = [];
    supervisor.on('error', (err) => errors.push(err));
    const exited = once(supervisor, 'exit');
    const twoFailures = new Promise<void>((resolve) => supervisor.on('error', () => errors.length >= 2 && resolve()));
    process.kill(firstPid, 'SIGKILL');
    const [exit] = (await exited) as [{ pid: number; signal: string }];
    assert.deepEqual([exit.pid, exit.signal], [firstPid, 'SIGKILL']);
    await twoFailures;
    assert.ok(errors.every((err) => isAloftError(err, 'WIREGUARD_FAILED') && /exited \(code 3\).*refusing/s.test(err.message)), errors.map(String).join('\n'));
    const ready = once(supervisor, 'ready');
    await rm(marker);
    const [{ pid, starts }] = (await ready) as [{ pid: number; starts: number }];
    assert.notEqual(pid, firstPid);
    assert.equal(starts, 2);
    assert.equal(configured, 2);
    assert.equal((await supervisor.client.get()).listenPort, 41_003);
    await supervisor.stop();
    assert.equal(alive(pid), false);
  });

  it('fails a start clearly, leaving nothing running, when the daemon cannot start', async () => {
    await assert.rejects(
      supervise({ iface: 'wgnone', netns: ns1, socketDir: join(dir, 'none'), binary: 'no-such-wireguard-go' }).start(),
      (err) => isAloftError(err, 'WIREGUARD_FAILED') && /apt-get install wireguard-go/.test(err.message),
    );
    const failing = supervise({ iface: 'wgfalse', netns: ns1, socketDir: join(dir, 'false'), binary: '/bin/false' });
    await assert.rejects(failing.start(), (err) => isAloftError(err, 'WIREGUARD_FAILED') && /exited \(code 1\) before its socket answered/.test(err.message));
    assert.equal(failing.pid, undefined);
    // A configuration hook that fails stops the daemon it started.
    const refused = supervise({
      iface: 'wgrefuse',
      netns: ns1,
      socketDir: join(dir, 'refuse'),
      onStart: () => Promise.reject(new Error('bad config')),
    });
    await assert.rejects(refused.start(), /bad config/);
    assert.equal(refused.pid, undefined);
    assert.equal((await kit.ip('-j', '-n', ns1, 'link', 'show')).includes('wgrefuse'), false);
  });

  it('refuses bad options, naming the field', () => {
    assert.throws(() => new WireguardSupervisor({ iface: 'much-too-long-name', socketDir: '/tmp/x' }), /'iface' must be an interface name/);
    assert.throws(() => new WireguardSupervisor({ iface: 'wg0', socketDir: 'relative' }), /'socketDir' must be an absolute path/);
    assert.throws(() => new WireguardSupervisor({ iface: 'wg0', socketDir: '/tmp/x', netns: 'a b' }), /'netns'/);
  });
});
