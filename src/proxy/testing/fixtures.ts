import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { App, Machine, MachineState } from '../../model/index.ts';
import { machineId } from '../../lib/ids.ts';

/** An app record for tests. */
export function fakeApp(name: string): App {
  return { id: `app-${name}`, name, orgSlug: 'personal', network: 1, status: 'deployed', createdAt: Date.now() };
}

/** A machine of `appName` whose HTTP service listens on 127.0.0.1:`port`. */
export function fakeMachine(appName: string, port: number, state: MachineState = 'started', id = machineId()): Machine {
  return {
    id,
    name: `m-${id}`,
    appName,
    region: 'local',
    hostId: 'host-1',
    state,
    instanceId: 'I1',
    config: {
      image: 'example/app:latest',
      services: [{ protocol: 'tcp', internal_port: port, ports: [{ port: 80, handlers: ['http'] }] }],
    },
    imageRef: { registry: 'r', repository: 'example/app', tag: 'latest', digest: 'sha256:0' },
    addresses: { ipv4: '127.0.0.1', ipv6: 'fdaa::2' },
    version: 1,
    createdAt: Date.now(),
    updatedAt: Date.now(),
  };
}

/** A real HTTP server on 127.0.0.1 standing in for a Machine's app. */
export interface Backend {
  port: number;
  server: Server;
  /** TCP connections accepted so far (to check keep-alive reuse). */
  connections: number;
  close(): Promise<void>;
}

/** Starts a backend on a random (or the given) port; the default handler echoes the request as JSON. */
export async function startBackend(
  handler: (req: IncomingMessage, res: ServerResponse) => void = echo,
  port = 0,
): Promise<Backend> {
  const server = createServer(handler);
  const backend: Backend = {
    port: 0,
    server,
    connections: 0,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
  server.on('connection', () => void (backend.connections += 1));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  backend.port = (server.address() as AddressInfo).port;
  return backend;
}

/** A port on 127.0.0.1 that nothing listens on (it was free a moment ago). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Answers with what it received: method, url, headers, body length. */
export function echo(req: IncomingMessage, res: ServerResponse): void {
  let length = 0;
  req.on('data', (chunk: Buffer) => void (length += chunk.length));
  req.on('end', () => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ method: req.method, url: req.url, headers: req.headers, bodyLength: length }));
  });
}
