import type { ReleaseEvent } from '../store/release-store.ts';

/**
 * In-process fan-out of release events to followers (the API's NDJSON streams). The
 * store keeps every event; this only tells live followers that one was written.
 */
export class ReleaseEventBus {
  readonly #listeners = new Map<string, Set<(event: ReleaseEvent) => void>>();

  /** Calls `listener` with each new event of the release; answers the unsubscribe. */
  subscribe(releaseId: string, listener: (event: ReleaseEvent) => void): () => void {
    let set = this.#listeners.get(releaseId);
    if (!set) this.#listeners.set(releaseId, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.#listeners.get(releaseId) === set) this.#listeners.delete(releaseId);
    };
  }

  publish(releaseId: string, event: ReleaseEvent): void {
    for (const listener of [...(this.#listeners.get(releaseId) ?? [])]) listener(event);
  }
}
