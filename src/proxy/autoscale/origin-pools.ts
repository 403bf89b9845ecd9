import { Dispatcher, Pool } from 'undici';

/**
 * The proxy's backend connections: one keep-alive pool per Machine origin, like
 * undici's Agent, plus what the Agent cannot do: close the pool of one origin
 * (`closeOrigin`), so a Machine about to be stopped or suspended has no idle proxy
 * connection left open (a checkpoint wants quiet sockets). A later request to that
 * origin gets a fresh pool.
 */
export class OriginPools extends Dispatcher {
  readonly #pools = new Map<string, Pool>();
  readonly #options: Pool.Options;
  #closed = false;

  constructor(options: Pool.Options) {
    super();
    this.#options = options;
  }

  override dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    const key = String(options.origin);
    let pool = this.#pools.get(key);
    if (pool === undefined) {
      if (this.#closed) throw new Error('the proxy backend pools are closed');
      pool = new Pool(key, this.#options);
      this.#pools.set(key, pool);
    }
    return pool.dispatch(options, handler);
  }

  /** Whether a pool for `origin` is open (for tests). */
  has(origin: string): boolean {
    return this.#pools.has(origin);
  }

  /**
   * Forgets the pool of `origin` and closes it: requests it is running finish, idle
   * connections close now. Resolves once its connections are closed.
   */
  async closeOrigin(origin: string): Promise<void> {
    const pool = this.#pools.get(origin);
    if (pool === undefined) return;
    this.#pools.delete(origin);
    await pool.close();
  }

  override async close(): Promise<void> {
    this.#closed = true;
    const pools = [...this.#pools.values()];
    this.#pools.clear();
    await Promise.all(pools.map((p) => p.close()));
  }

  override async destroy(): Promise<void> {
    this.#closed = true;
    const pools = [...this.#pools.values()];
    this.#pools.clear();
    await Promise.all(pools.map((p) => p.destroy()));
  }
}
