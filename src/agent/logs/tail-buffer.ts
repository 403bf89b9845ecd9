/** The last `capacity` items, oldest first: a ring, so keeping a line costs O(1). */
export class TailBuffer<T> {
  readonly #items: (T | undefined)[];
  #start = 0;
  #size = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`Cannot keep log lines as 'capacity' must be a positive integer: got ${String(capacity)}`);
    this.#items = new Array<T | undefined>(capacity);
  }

  push(item: T): void {
    const end = (this.#start + this.#size) % this.capacity;
    this.#items[end] = item;
    if (this.#size < this.capacity) this.#size++;
    else this.#start = (this.#start + 1) % this.capacity;
  }

  /** The last `n` items (all when absent), oldest first. */
  last(n = this.#size): T[] {
    const count = Math.max(0, Math.min(n, this.#size));
    const out: T[] = [];
    for (let i = this.#size - count; i < this.#size; i++) out.push(this.#items[(this.#start + i) % this.capacity]!);
    return out;
  }
}
