import type { Machine } from '../model/index.ts';

/**
 * What the host's agent asks when it builds a Machine's environment: the app's secrets,
 * opened. The embedded platform passes a SecretVault (it holds the platform key); a
 * cluster host would pass a client that asks for exactly this Machine's app, so the
 * agent never needs the key itself.
 */
export interface MachineSecrets {
  /** The Machine's app's secrets as NAME → value (staged included; staged unsets left out). */
  envFor(machine: Machine): Promise<Record<string, string>>;
}
