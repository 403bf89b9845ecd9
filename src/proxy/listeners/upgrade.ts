import { ServerResponse, type IncomingMessage } from 'node:http';
import { connect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import type { Logger } from '../../lib/log.ts';
import type { RateLimiter } from '../guard/rate-limiter.ts';
import type { LoadTracker } from '../balance/load-tracker.ts';
import { createContext } from '../context.ts';
import { clientIp, forwardedRequestHeaders } from '../forwarded-headers.ts';
import { appFromHost } from '../host.ts';
import type { Picker } from '../picker.ts';
import type { RouteTable } from '../route-table.ts';
import { rawAnswer } from './raw-answer.ts';
import { pipeTunnel, tieTunnel } from './tunnel.ts';

/** After one side's FIN, how long the other may take to finish (WebSockets close by frames, so briefly). */
const UPGRADE_LINGER_MS = 1000;

export interface UpgradeOptions {
  table: RouteTable;
  domain: string;
  region: string;
  picker: Picker;
  loads: LoadTracker;
  nextRequestId: () => string;
  /** Give up connecting to the Machine after this long. */
  connectTimeoutMs: number;
  /** The per-address limit requests meet; an upgrade is a request too. */
  rateLimiter?: RateLimiter | undefined;
  log: Logger;
}

/**
 * Handles HTTP/1.1 `Upgrade` requests (WebSockets): routes by Host like any request,
 * sends the request with Fly's headers and its Connection/Upgrade pair to the chosen
 * Machine over a connection of its own, then pipes bytes both ways — the Machine's
 * 101 (or refusal) included — until either side closes. The tunnel counts as a
 * request and a connection on the Machine while open. No retry: an upgrade is not
 * idempotent once sent.
 */
export function upgradeHandler(options: UpgradeOptions): (req: IncomingMessage, socket: Duplex, head: Buffer) => void {
  const { table, domain, log } = options;
  return (req, client, head) => {
    const ctx = createContext(req, new ServerResponse(req), options.nextRequestId(), options.region);
    const app = appFromHost(ctx.host, domain);
    const fail = (code: Parameters<typeof rawAnswer>[1], message: string): void => rawAnswer(client, code, message, ctx.requestId);
    const refused = options.rateLimiter?.refuse(clientIp(req));
    if (refused !== undefined) return rawAnswer(client, 'PROXY_RATE_LIMITED', refused.message, ctx.requestId, { 'retry-after': String(refused.retryAfterS) });
    if (app === undefined) {
      fail('PROXY_NO_ROUTE', `Cannot route request as 'Host' must be '<app>.${domain}': got ${JSON.stringify(ctx.host ?? '')}`);
      return;
    }
    ctx.app = app;
    const routes = table.lookup(app);
    if (!routes.known) return fail('APP_NOT_FOUND', `no app named "${app}" (host ${JSON.stringify(ctx.host)})`);
    if (routes.started.length === 0) return fail('PROXY_NO_STARTED_MACHINE', `app "${app}" has no started machine`);
    const entry = options.picker(routes.started, ctx);
    if (entry === undefined) {
      return fail('PROXY_AT_CAPACITY', `Cannot route request to app "${app}" as every machine is at its hard_limit`);
    }
    const socket = req.socket;
    const headers = forwardedRequestHeaders(req, {
      clientIp: clientIp(req),
      port: socket.localPort ?? 0,
      proto: (socket as TLSSocket).encrypted ? 'https' : 'http',
      region: options.region,
      requestId: ctx.requestId,
      host: ctx.host ?? '',
    });
    // Hop-by-hop by nature, so stripped above; an upgrade needs them on this hop too.
    headers.push('connection', 'upgrade', 'upgrade', req.headers.upgrade ?? 'websocket');
    let lines = `${req.method ?? 'GET'} ${ctx.path} HTTP/1.1\r\n`;
    for (let i = 0; i + 1 < headers.length; i += 2) lines += `${headers[i]}: ${headers[i + 1]}\r\n`;
    const backend: Socket = connect({ host: entry.ipv4 !== '' ? entry.ipv4 : entry.ipv6, port: entry.port, timeout: options.connectTimeoutMs });
    const release = options.loads.acquire(entry, socket);
    let open = false;
    tieTunnel(client, backend, UPGRADE_LINGER_MS, release);
    backend.once('timeout', () => backend.destroy(new Error(`connect timed out after ${options.connectTimeoutMs} ms`)));
    backend.once('connect', () => {
      open = true;
      backend.setTimeout(0);
      backend.write(`${lines}\r\n`);
      if (head.length > 0) backend.write(head);
      pipeTunnel(client, backend);
    });
    backend.on('error', (err) => {
      if (open) return client.destroy();
      log.warn({ err, app, machine: entry.machineId }, 'proxy: cannot connect an upgrade to its machine');
      fail('PROXY_BACKEND_UNREACHABLE', `Cannot reach app "${app}": machine ${entry.machineId} refused the upgrade connection: ${err.message}`);
    });
  };
}
