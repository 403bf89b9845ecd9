import { request } from 'node:http';

export interface HttpGetResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/**
 * A plain HTTP GET that sends the Host header given. (fetch cannot: it always derives
 * Host from the URL.) Used to reach apps through the proxy at <app>.<domain> without
 * needing DNS for that name. No keep-alive, so no socket outlives the call.
 */
export function httpGet(url: string, options: { host?: string; timeoutMs?: number } = {}): Promise<HttpGetResult> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'GET', agent: false, headers: options.host ? { host: options.host } : {}, timeout: options.timeoutMs ?? 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on('error', reject);
    req.end();
  });
}
