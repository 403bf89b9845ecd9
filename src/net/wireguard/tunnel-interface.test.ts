import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { CommandResult, CommandRunner } from '../../lib/command.ts';
import { isAloftError } from '../../lib/errors.ts';
import { TunnelInterface } from './tunnel-interface.ts';

/** A fake `ip` that records calls and answers from (prefix → result). */
function fakeIp(answers: [string, Partial<CommandResult>][] = []): { run: CommandRunner; calls: string[] } {
  const calls: string[] = [];
  const run: CommandRunner = async (file, args) => {
    const line = [file, ...args].join(' ');
    calls.push(line);
    return { code: 0, stdout: '', stderr: '', ...(answers.find(([prefix]) => line.startsWith(prefix))?.[1] ?? {}) };
  };
  return { run, calls };
}

describe('TunnelInterface (argument building)', () => {
  it('sets MTU 1420, the host address as a /128 without DAD, and brings the link up, inside the netns', async () => {
    const { run, calls } = fakeIp();
    await new TunnelInterface({ iface: 'aloft-wg', netns: 'h1', run }).configure('fdaa::1:0:0:1');
    assert.deepEqual(calls, [
      'ip -n h1 link set aloft-wg mtu 1420',
      'ip -n h1 -6 addr replace fdaa::1:0:0:1/128 dev aloft-wg nodad',
      'ip -n h1 link set aloft-wg up',
    ]);
  });

  it('adds missing routes and removes stale ones, only among its own (proto static)', async () => {
    const shown = JSON.stringify([{ dst: 'fdaa:0:7:0:2::/80' }, { dst: 'fdaa:0:9:0:2::/80' }, { dst: 'fdaa::5' }]);
    const { run, calls } = fakeIp([['ip -j -6 route show', { stdout: shown }]]);
    const tunnel = new TunnelInterface({ iface: 'wg0', run });
    const changes = await tunnel.setRoutes(['fdaa:0:7:0:2::/80', 'FDAA:0:8:0:2::/80']);
    assert.deepEqual(changes, { added: ['fdaa:0:8:0:2::/80'], removed: ['fdaa:0:9:0:2::/80', 'fdaa::5/128'] });
    assert.deepEqual(calls, [
      'ip -j -6 route show dev wg0 proto static',
      'ip -6 route replace fdaa:0:8:0:2::/80 dev wg0 proto static',
      'ip -6 route del fdaa:0:9:0:2::/80 dev wg0 proto static',
      'ip -6 route del fdaa::5/128 dev wg0 proto static',
    ]);
  });

  it('refuses non-IPv6 prefixes and turns a failing ip into WIREGUARD_FAILED', async () => {
    await assert.rejects(new TunnelInterface({ iface: 'wg0', run: fakeIp().run }).setRoutes(['10.0.0.0/8']), (err) => isAloftError(err, 'INVALID_ARGUMENT'));
    const { run } = fakeIp([['ip link set', { code: 1, stderr: 'Cannot find device "wg0"' }]]);
    await assert.rejects(new TunnelInterface({ iface: 'wg0', run }).configure('fdaa::1:0:0:1'), (err) => isAloftError(err, 'WIREGUARD_FAILED') && /Cannot find device/.test(err.message));
  });
});
