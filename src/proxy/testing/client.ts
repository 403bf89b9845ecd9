import { request as httpRequest, type Agent, type IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';

/** A response read whole, for assertions. */
export interface TestResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  text: string;
}

export interface TestRequest {
  /** The Host header (the app is chosen by it). */
  host?: string;
  path?: string;
  method?: string;
  /** Extra request headers, as a flat [name, value, …] list so duplicates and case survive. */
  headers?: string[];
  body?: Buffer | string | Readable;
  /** Keep-alive agent; default none (a fresh connection per request). */
  agent?: Agent;
}

/** Sends one request to 127.0.0.1:`port` and reads the whole response. */
export function send(port: number, options: TestRequest = {}): Promise<TestResponse> {
  const headers: string[] = [...(options.headers ?? [])];
  if (options.host !== undefined) headers.push('Host', options.host);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        method: options.method ?? 'GET',
        path: options.path ?? '/',
        headers,
        agent: options.agent ?? false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const body = Buffer.concat(chunks);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text: body.toString() });
        });
      },
    );
    req.on('error', reject);
    const body = options.body;
    if (body === undefined) req.end();
    else if (typeof body === 'string' || Buffer.isBuffer(body)) req.end(body);
    else body.pipe(req);
  });
}

/** The JSON a test backend's `echo` handler answered. */
export interface Echoed {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  bodyLength: number;
}

/** Parses an echo answer. */
export function echoed(res: TestResponse): Echoed {
  return JSON.parse(res.text) as Echoed;
}
