/**
 * Tells the attempt or wait in progress that the client went away. A lighter stand-in
 * for AbortController, whose signal costs more per request than the rest of routing;
 * one listener at a time is all the forward step needs.
 */
export class ClientGone {
  #gone = false;
  #listener: (() => void) | undefined;

  get gone(): boolean {
    return this.#gone;
  }

  /** Calls `listener` when the client goes (at once if it already has). */
  listen(listener: () => void): void {
    this.#listener = listener;
    if (this.#gone) listener();
  }

  unlisten(): void {
    this.#listener = undefined;
  }

  /** Marks the client gone and tells the listener, once. */
  fire(): void {
    if (this.#gone) return;
    this.#gone = true;
    const listener = this.#listener;
    this.#listener = undefined;
    listener?.();
  }
}
