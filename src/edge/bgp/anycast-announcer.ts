import type { BirdClient } from './birdc.ts';
import { EDGE_UPLINKS } from './edge-config.ts';

/**
 * An edge's anycast announcement, driven by its proxy's health: `withdraw()` disables
 * the export sessions (bird closes them with a Cease, so the router routes around this
 * edge at once, with no packet lost); `announce()` enables them again.
 */
export class AnycastAnnouncer {
  readonly #client: BirdClient;
  readonly #sessions: readonly string[];

  constructor(client: BirdClient, sessions: readonly string[] = EDGE_UPLINKS) {
    this.#client = client;
    this.#sessions = sessions;
  }

  /** Announces the anycast routes (enables every export session). */
  async announce(): Promise<void> {
    for (const session of this.#sessions) await this.#client.enable(session);
  }

  /** Withdraws the anycast routes (disables every export session). */
  async withdraw(): Promise<void> {
    for (const session of this.#sessions) await this.#client.disable(session);
  }

  /** True when every export session is established (announcing). */
  async announcing(): Promise<boolean> {
    const rows = await this.#client.protocols();
    return this.#sessions.every((name) => rows.some((row) => row.name === name && row.state === 'up' && row.info.startsWith('Established')));
  }
}
