import { createProxy, type Proxy, type ProxyOptions } from '../server.ts';
import { FakeStore } from './fake-store.ts';

/** A fake store and a proxy listening on a random 127.0.0.1 port. */
export interface ProxyWorld {
  store: FakeStore;
  proxy: Proxy;
  port: number;
  /** Everything listen bound (the TLS port and TCP services too, when configured). */
  ports: Awaited<ReturnType<Proxy['listen']>>;
  /** Resolves once the proxy's table has applied every change so far. */
  settled(): Promise<void>;
  close(): Promise<void>;
}

/** Starts a proxy on a fake store; `setup` fills the store before the proxy loads it. */
export async function startProxyWorld(
  setup: (store: FakeStore) => void = () => {},
  options: Partial<ProxyOptions> = {},
): Promise<ProxyWorld> {
  const store = new FakeStore();
  setup(store);
  const proxy = createProxy({ store, port: 0, ...options });
  const ports = await proxy.listen();
  const { port } = ports;
  return {
    store,
    proxy,
    port,
    ports,
    settled: async () => proxy.table.whenRevision(await store.revision()),
    close: () => proxy.close(),
  };
}
