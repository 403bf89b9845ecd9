import { request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';
import type { HealthCheckSpec } from './check-spec.ts';

/** What one probe found. */
export interface ProbeResult {
  ok: boolean;
  /** Why it failed ("status 302", "ECONNREFUSED", "timed out after 2000 ms"), '' when ok. */
  detail: string;
  /**
   * What a person reads about the probe (Fly's check `output`), only when the caller
   * asked for `outputBytes`: "Success" for tcp, the status line and the start of the
   * body for http, the error otherwise.
   */
  output?: string;
}

/**
 * Runs `check` once against `host`. tcp: the port accepts a connection. http: the
 * request gets a 2xx; redirects are failures and never followed (Fly's rule: a check
 * that redirects is misconfigured, and following it would probe something else).
 * Always settles within the check's timeout and leaves no socket open. With
 * `outputBytes`, an http probe reads up to that many bytes of the body for `output`.
 */
export function probe(host: string, check: HealthCheckSpec, signal?: AbortSignal, outputBytes = 0): Promise<ProbeResult> {
  if (signal?.aborted === true) return Promise.resolve(withOutput({ ok: false, detail: 'aborted' }, outputBytes));
  return check.type === 'tcp' ? probeTcp(host, check, signal, outputBytes) : probeHttp(host, check, signal, outputBytes);
}

function withOutput(result: ProbeResult, outputBytes: number, output?: string): ProbeResult {
  return outputBytes > 0 ? { ...result, output: output ?? (result.ok ? 'Success' : result.detail) } : result;
}

function probeTcp(host: string, check: HealthCheckSpec, signal: AbortSignal | undefined, outputBytes: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const socket = connect({ host, port: check.port });
    const onAbort = (): void => done({ ok: false, detail: 'aborted' });
    const done = (result: ProbeResult): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      socket.destroy();
      resolve(withOutput(result, outputBytes));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    const timer = setTimeout(() => done({ ok: false, detail: `timed out after ${check.timeoutMs} ms` }), check.timeoutMs);
    socket.once('connect', () => done({ ok: true, detail: '' }));
    socket.once('error', (err: NodeJS.ErrnoException) => done({ ok: false, detail: err.code ?? err.message }));
  });
}

function probeHttp(host: string, check: HealthCheckSpec, signal: AbortSignal | undefined, outputBytes: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    let settled = false;
    const onAbort = (): void => done({ ok: false, detail: 'aborted' });
    const done = (result: ProbeResult, output?: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      req.destroy();
      resolve(withOutput(result, outputBytes, output));
    };
    const headers: OutgoingHttpHeaders = { 'user-agent': 'aloft-health-check' };
    for (const [name, values] of Object.entries(check.headers ?? {})) headers[name] = values.length === 1 ? values[0] : [...values];
    // A fresh connection each time: a pooled one could hide a listener that died.
    headers['connection'] = 'close';
    const options = { host, port: check.port, method: check.method, path: check.path, agent: false as const, headers };
    const req =
      check.protocol === 'https'
        ? httpsRequest({ ...options, rejectUnauthorized: check.tlsSkipVerify !== true, ...(check.tlsServerName ? { servername: check.tlsServerName } : {}) })
        : httpRequest(options);
    signal?.addEventListener('abort', onAbort, { once: true });
    const timer = setTimeout(() => done({ ok: false, detail: `timed out after ${check.timeoutMs} ms` }), check.timeoutMs);
    req.once('response', (res) => {
      const status = res.statusCode ?? 0;
      const result = status >= 200 && status < 300 ? { ok: true, detail: '' } : { ok: false, detail: `status ${status}` };
      if (outputBytes <= 0) {
        // Drain so the socket closes cleanly; the verdict does not wait for the body.
        res.resume();
        done(result);
        return;
      }
      readStart(res, outputBytes, (body) => done(result, `${status} ${res.statusMessage ?? ''}`.trim() + (body === '' ? '' : `: ${body}`)));
    });
    req.once('error', (err: NodeJS.ErrnoException) => done({ ok: false, detail: err.code ?? err.message }));
    req.end();
  });
}

/** Calls `then` with the first `limit` bytes of the body (or all of a shorter one), as text. */
function readStart(res: IncomingMessage, limit: number, then: (body: string) => void): void {
  const chunks: Buffer[] = [];
  let length = 0;
  let finished = false;
  const finish = (): void => {
    if (finished) return;
    finished = true;
    then(Buffer.concat(chunks).subarray(0, limit).toString('utf8').trim());
  };
  res.on('data', (chunk: Buffer) => {
    chunks.push(chunk);
    length += chunk.length;
    if (length >= limit) finish();
  });
  res.once('end', finish);
  res.once('error', finish);
  res.once('close', finish);
}
