import type { Socket } from 'node:net';
import type { RouteEntry } from '../route-entry.ts';

/**
 * The load the proxy puts on each Machine, counted by the proxy itself: requests in
 * flight, and client connections routed to it (a client connection belongs to the
 * Machine that took its latest request until it closes or a request goes
 * elsewhere). Which of the two counts is a Machine's "load" depends on its service's
 * concurrency type. Listeners hear each time a Machine's load drops, so waiting
 * requests can be woken.
 */
export class LoadTracker {
  readonly #requests = new Map<string, number>();
  readonly #connections = new Map<string, number>();
  readonly #owner = new WeakMap<Socket, RouteEntry>();
  readonly #listeners = new Set<(entry: RouteEntry) => void>();

  /** The Machine's load as its concurrency type counts it. */
  load(entry: RouteEntry): number {
    return entry.concurrency.type === 'requests' ? this.requests(entry.machineId) : this.connections(entry.machineId);
  }

  /**
   * The load `entry` would have without `socket`'s own share: a keep-alive client
   * already counted on a Machine does not compete with itself for a slot.
   */
  loadFor(entry: RouteEntry, socket: Socket | undefined): number {
    const load = this.load(entry);
    const own = entry.concurrency.type === 'connections' && socket !== undefined && this.#owner.get(socket)?.machineId === entry.machineId;
    return own ? load - 1 : load;
  }

  requests(machineId: string): number {
    return this.#requests.get(machineId) ?? 0;
  }

  connections(machineId: string): number {
    return this.#connections.get(machineId) ?? 0;
  }

  /** Calls `listener` when a Machine's request or connection count drops. */
  onRelease(listener: (entry: RouteEntry) => void): () => void {
    this.#listeners.add(listener);
    return () => void this.#listeners.delete(listener);
  }

  /**
   * Counts one request of `socket`'s client on `machineId`, and the connection if it
   * is not counted there yet. Returns the release for the request (call once).
   */
  acquire(entry: RouteEntry, socket: Socket): () => void {
    const { machineId } = entry;
    this.#add(this.#requests, machineId);
    const owner = this.#owner.get(socket);
    // A client already gone would never fire 'close' again: count its request only.
    if (owner?.machineId !== machineId && !socket.destroyed) {
      if (owner === undefined) {
        socket.once('close', () => {
          const last = this.#owner.get(socket);
          if (last === undefined) return;
          this.#owner.delete(socket);
          this.#drop(this.#connections, last);
        });
      } else {
        this.#drop(this.#connections, owner);
      }
      this.#owner.set(socket, entry);
      this.#add(this.#connections, machineId);
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#drop(this.#requests, entry);
    };
  }

  #add(counts: Map<string, number>, id: string): void {
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }

  #drop(counts: Map<string, number>, entry: RouteEntry): void {
    const n = (counts.get(entry.machineId) ?? 0) - 1;
    if (n <= 0) counts.delete(entry.machineId);
    else counts.set(entry.machineId, n);
    for (const listener of this.#listeners) listener(entry);
  }
}
