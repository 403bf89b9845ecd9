import { request } from 'node:http';
import { connect } from 'node:net';
import type { HealthCheckSpec } from './check-spec.ts';

/** What one probe found. */
export interface ProbeResult {
  ok: boolean;
  /** Why it failed ("status 302", "ECONNREFUSED", "timed out after 2000 ms"), '' when ok. */
  detail: string;
}

/**
 * Runs `check` once against `host`. tcp: the port accepts a connection. http: the
 * request gets a 2xx; redirects are failures and never followed (Fly's rule: a check
 * that redirects is misconfigured, and following it would probe something else).
 * Always settles within the check's timeout and leaves no socket open.
 */
export function probe(host: string, check: HealthCheckSpec, signal?: AbortSignal): Promise<ProbeResult> {
  if (signal?.aborted === true) return Promise.resolve({ ok: false, detail: 'aborted' });
  return check.type === 'tcp' ? probeTcp(host, check, signal) : probeHttp(host, check, signal);
}

function probeTcp(host: string, check: HealthCheckSpec, signal: AbortSignal | undefined): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const socket = connect({ host, port: check.port });
    const onAbort = (): void => done({ ok: false, detail: 'aborted' });
    const done = (result: ProbeResult): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      socket.destroy();
      resolve(result);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    const timer = setTimeout(() => done({ ok: false, detail: `timed out after ${check.timeoutMs} ms` }), check.timeoutMs);
    socket.once('connect', () => done({ ok: true, detail: '' }));
    socket.once('error', (err: NodeJS.ErrnoException) => done({ ok: false, detail: err.code ?? err.message }));
  });
}

function probeHttp(host: string, check: HealthCheckSpec, signal: AbortSignal | undefined): Promise<ProbeResult> {
  return new Promise((resolve) => {
    let settled = false;
    const onAbort = (): void => done({ ok: false, detail: 'aborted' });
    const done = (result: ProbeResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      req.destroy();
      resolve(result);
    };
    const req = request({
      host,
      port: check.port,
      method: check.method,
      path: check.path,
      // A fresh connection each time: a pooled one could hide a listener that died.
      agent: false,
      headers: { 'user-agent': 'aloft-health-check', connection: 'close' },
    });
    signal?.addEventListener('abort', onAbort, { once: true });
    const timer = setTimeout(() => done({ ok: false, detail: `timed out after ${check.timeoutMs} ms` }), check.timeoutMs);
    req.once('response', (res) => {
      const status = res.statusCode ?? 0;
      // Drain so the socket closes cleanly; the verdict does not wait for the body.
      res.resume();
      done(status >= 200 && status < 300 ? { ok: true, detail: '' } : { ok: false, detail: `status ${status}` });
    });
    req.once('error', (err: NodeJS.ErrnoException) => done({ ok: false, detail: err.code ?? err.message }));
    req.end();
  });
}
