import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { invalidField } from '../lib/errors.ts';
import { silentLogger, type Logger } from '../lib/log.ts';
import { listenOn } from '../proxy/listeners/listen.ts';
import type { Proxy } from '../proxy/server.ts';
import type { FlycastDirectory } from './flycast-directory.ts';
import type { AddressAssigner } from './loopback-assigner.ts';

/** Options of {@link FlycastListeners}. */
export interface FlycastListenersOptions {
  directory: FlycastDirectory;
  /** The edge proxy whose steps (balancing, autostart, replay…) Flycast requests go through. */
  proxy: Pick<Proxy, 'handle'>;
  /** The proxy's app domain: a request is handed on as `Host: <app>.<domain>`. */
  domain: string;
  /** Ports served on every Flycast address. Default [80]. */
  ports?: readonly number[];
  /** Puts each address on the host before binding it; without it they must be there already. */
  assigner?: AddressAssigner;
  log?: Logger;
}

/**
 * The proxy side of Flycast: an HTTP listener on every Flycast address and port, kept
 * equal to the directory. A request is routed by the address it came in on (the
 * connection's local address → the app), then handed to the proxy's own chain as a
 * request for `<app>.<domain>`, so private traffic gets the same balancing, health,
 * autostart and replay as public traffic. The original Host goes on as X-Forwarded-Host.
 */
export class FlycastListeners {
  readonly #o: FlycastListenersOptions;
  readonly #ports: readonly number[];
  readonly #log: Logger;
  /** address → its servers (one per port). */
  readonly #servers = new Map<string, Server[]>();
  #queue: Promise<void> = Promise.resolve();
  #unsubscribe: (() => void) | undefined;
  #closed = false;

  constructor(options: FlycastListenersOptions) {
    const ports = options.ports ?? [80];
    for (const port of ports) {
      if (!Number.isInteger(port) || port < 1 || port > 65_535) throw invalidField('serve Flycast', 'ports', 'integers from 1 to 65535', port);
    }
    this.#o = options;
    this.#ports = [...new Set(ports)];
    this.#log = (options.log ?? silentLogger).child({ part: 'flycast' });
  }

  /** Listens on every address the directory holds, then follows it. */
  async start(): Promise<void> {
    this.#unsubscribe = this.#o.directory.onChange(() => void this.#reconcile());
    await this.#reconcile();
  }

  /** Resolves once the listeners match every directory change so far (for tests). */
  settled(): Promise<void> {
    return this.#queue;
  }

  /** The addresses listened on now. */
  addresses(): string[] {
    return [...this.#servers.keys()].sort();
  }

  /** Stops every listener (and takes the addresses off the host when it put them there). */
  async close(): Promise<void> {
    this.#closed = true;
    this.#unsubscribe?.();
    await this.#reconcile();
  }

  #reconcile(): Promise<void> {
    const next = this.#queue.then(() => this.#apply());
    this.#queue = next.catch((err: unknown) => this.#log.error({ err }, 'flycast: cannot update listeners'));
    return next;
  }

  async #apply(): Promise<void> {
    const want = new Set(this.#closed ? [] : this.#o.directory.addresses());
    for (const [address, servers] of this.#servers) {
      if (want.has(address)) continue;
      this.#servers.delete(address);
      await Promise.all(servers.map((server) => closeServer(server)));
      await this.#o.assigner?.remove(address).catch((err: unknown) => this.#log.warn({ err, address }, 'flycast: cannot remove address'));
      this.#log.info({ address }, 'flycast: stopped listening');
    }
    for (const address of want) {
      if (this.#servers.has(address)) continue;
      await this.#o.assigner?.add(address);
      const servers: Server[] = [];
      try {
        for (const port of this.#ports) {
          const server = createServer((req, res) => this.#handle(req, res));
          await listenOn(server, port, address, `Flycast ${address}`);
          servers.push(server);
        }
      } catch (err) {
        await Promise.all(servers.map((server) => closeServer(server)));
        throw err;
      }
      this.#servers.set(address, servers);
      this.#log.info({ address, ports: this.#ports }, 'flycast: listening');
    }
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const app = this.#o.directory.appOf(req.socket.localAddress ?? '');
    if (app === undefined) {
      // Released while this connection was open.
      res.writeHead(404, { 'content-type': 'text/plain' }).end('no app holds this Flycast address\n');
      return;
    }
    const original = req.headers.host;
    // The proxy forwards the client's raw headers: add it there too.
    if (original !== undefined) {
      req.headers['x-forwarded-host'] = original;
      req.rawHeaders.push('X-Forwarded-Host', original);
    }
    req.headers.host = `${app}.${this.#o.domain}`;
    // An absolute-form target names the address, not the app: keep only its path.
    if (!(req.url ?? '/').startsWith('/')) req.url = new URL(req.url ?? '/').pathname + new URL(req.url ?? '/').search;
    this.#o.proxy.handle(req, res);
  }
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
