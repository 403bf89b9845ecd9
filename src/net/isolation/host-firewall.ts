import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execCommand, mustRun, type CommandOptions, type CommandRunner } from '../../lib/command.ts';
import { AloftError, invalidField } from '../../lib/errors.ts';
import { checkPolicy, type IsolationPolicy } from './policy.ts';
import { DROP_COUNTERS, renderRemoval, renderRuleset, renderSmtpSets, TABLE, TABLE_NAME, type DropCounter } from './ruleset.ts';

/** Options of {@link HostFirewall}. */
export interface HostFirewallOptions {
  /** The host's network namespace (a name under /var/run/netns); the root one when absent. */
  netns?: string | undefined;
  /**
   * The name of its `inet` and `bridge` tables (default "aloft"). Two platforms sharing
   * one machine's namespace (a dev `aloft up` and a test's) each need their own.
   */
  table?: string;
  /** Runs `nft`; injected by unit tests. */
  run?: CommandRunner;
}

const NFT: CommandOptions = { timeoutMs: 15_000, errorCode: 'FIREWALL_FAILED' };

/**
 * One host's isolation rules in nftables: aloft's own `inet` and `bridge` tables named
 * "aloft", each update one `nft -f` transaction (all of it applies or none), so the
 * host never runs half a policy and no other table or chain is touched.
 */
export class HostFirewall {
  readonly netns: string | undefined;
  readonly table: string;
  readonly #run: CommandRunner;

  constructor(options: HostFirewallOptions = {}) {
    if (options.netns !== undefined && !/^[A-Za-z0-9_.-]{1,64}$/.test(options.netns)) {
      throw invalidField('configure host firewall', 'netns', 'a namespace name of 1 to 64 of [A-Za-z0-9_.-]', options.netns);
    }
    if (options.table !== undefined && !TABLE_NAME.test(options.table)) {
      throw invalidField('configure host firewall', 'table', 'a table name: a letter, then up to 63 letters, digits or underscores', options.table);
    }
    this.netns = options.netns;
    this.table = options.table ?? TABLE;
    this.#run = options.run ?? execCommand;
  }

  /** Replaces aloft's tables with the rules for `policy` (validated first; nothing changes when it is bad). */
  async apply(policy: IsolationPolicy): Promise<void> {
    await this.#script(renderRuleset(checkPolicy(policy), this.table));
  }

  /**
   * Replaces only the SMTP allow sets from `policy`'s orgs (what flipping one org's
   * switch needs): rules and counters stay as they are. `apply` must have run first.
   */
  async applySmtp(policy: IsolationPolicy): Promise<void> {
    await this.#script(renderSmtpSets(checkPolicy(policy), this.table));
  }

  /** Removes aloft's tables; idempotent. */
  async remove(): Promise<void> {
    await this.#script(renderRemoval(this.table));
  }

  /** Packets dropped so far, by reason (the inet table's counters plus the bridge table's). */
  async dropped(): Promise<Record<DropCounter, number>> {
    const result = Object.fromEntries(DROP_COUNTERS.map((name) => [name, 0])) as Record<DropCounter, number>;
    for (const family of ['inet', 'bridge'] as const) {
      const out = await this.#nft(['-j', 'list', 'counters', 'table', family, this.table]);
      const items = ((JSON.parse(out) as { nftables?: unknown[] }).nftables ?? []) as { counter?: { name?: string; packets?: number } }[];
      for (const item of items) {
        const name = item.counter?.name as DropCounter | undefined;
        if (name !== undefined && name in result) result[name] += item.counter?.packets ?? 0;
      }
    }
    return result;
  }

  async #script(text: string): Promise<void> {
    // nft -f reads a file; a private temp dir keeps the script from other users.
    const dir = await mkdtemp(join(tmpdir(), 'aloft-nft-'));
    try {
      const file = join(dir, 'rules.nft');
      await writeFile(file, text, { mode: 0o600 });
      await this.#nft(['-f', file]);
    } catch (err) {
      if (err instanceof AloftError) throw err;
      throw new AloftError('FIREWALL_FAILED', `Cannot apply isolation rules: ${(err as Error).message}`, { cause: err });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  #nft(args: string[]): Promise<string> {
    return this.netns === undefined ? mustRun(this.#run, 'nft', args, NFT) : mustRun(this.#run, 'ip', ['netns', 'exec', this.netns, 'nft', ...args], NFT);
  }
}
