import { execCommand, mustRun, type CommandRunner } from '../lib/command.ts';

/** Puts Flycast addresses on an interface of the proxy's host and takes them off again. */
export interface AddressAssigner {
  add(address: string): Promise<void>;
  remove(address: string): Promise<void>;
}

/**
 * Each address as a /128 on `lo` (in `netns` when given), `nodad` so it is usable at
 * once: then the proxy can bind it, and packets to it that reach the host (from its
 * Machines over the bridge, from peers through the gateway) are delivered locally.
 */
export function loopbackAssigner(options: { netns?: string; run?: CommandRunner; iface?: string } = {}): AddressAssigner {
  const run = options.run ?? execCommand;
  const iface = options.iface ?? 'lo';
  const ip = (args: string[]): Promise<string> =>
    mustRun(run, 'ip', options.netns === undefined ? args : ['-n', options.netns, ...args], { timeoutMs: 15_000, errorCode: 'NETWORK_FAILED' });
  return {
    add: async (address) => void (await ip(['-6', 'addr', 'replace', `${address}/128`, 'dev', iface, 'nodad'])),
    remove: async (address) => void (await ip(['-6', 'addr', 'del', `${address}/128`, 'dev', iface])),
  };
}
