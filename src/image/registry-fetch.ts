import { setTimeout as sleep } from 'node:timers/promises';
import { AloftError } from '../lib/errors.ts';

/** Timeouts and retries of the GETs a pull makes. */
export interface FetchPolicy {
  /** Until the response headers arrive, connecting included; default 30 s. */
  headersTimeoutMs?: number;
  /** Longest wait for the next bytes of a body; default 60 s (a stalled blob). */
  bodyIdleTimeoutMs?: number;
  /** Tries in all for a 5xx, 429, connection reset or headers timeout; default 4. */
  attempts?: number;
  /** The first retry waits up to this (full jitter), doubling each time; default 250 ms. */
  retryDelayMs?: number;
}

const RETRY_STATUS = new Set([429, 500, 502, 503, 504]);
const RETRY_ERRNO = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT']);
const MAX_DELAY_MS = 5_000;

/** Raised when a timeout of the policy fires: the message says which. */
export class FetchTimeoutError extends Error {
  override readonly name = 'FetchTimeoutError';
}

/**
 * GETs `url` (an idempotent request, so retrying is safe) under `policy`: retries 5xx,
 * 429 and connection resets with exponential backoff; aborts when headers or the next
 * body bytes take too long. The returned Response's body carries the idle timeout.
 * What fails is thrown as it came (network errors, FetchTimeoutError); a final 5xx is
 * returned for the caller to report with its context.
 */
export async function fetchWithRetry(fetchImpl: typeof fetch, url: string, headers: Record<string, string>, policy: FetchPolicy = {}): Promise<Response> {
  const attempts = policy.attempts ?? 4;
  const baseDelay = policy.retryDelayMs ?? 250;
  for (let attempt = 1; ; attempt++) {
    let res: Response | undefined;
    try {
      res = await timedFetch(fetchImpl, url, headers, policy);
    } catch (err) {
      if (attempt >= attempts || !retryable(err)) throw err;
    }
    if (res !== undefined) {
      if (!RETRY_STATUS.has(res.status) || attempt >= attempts) return res;
      await res.body?.cancel();
    }
    await sleep(Math.random() * Math.min(MAX_DELAY_MS, baseDelay * 2 ** (attempt - 1)));
  }
}

/** One GET with a headers timeout and a body that errors after `bodyIdleTimeoutMs` without bytes. */
async function timedFetch(fetchImpl: typeof fetch, url: string, headers: Record<string, string>, policy: FetchPolicy): Promise<Response> {
  const headersMs = policy.headersTimeoutMs ?? 30_000;
  const idleMs = policy.bodyIdleTimeoutMs ?? 60_000;
  const controller = new AbortController();
  let timer = setTimeout(() => controller.abort(new FetchTimeoutError(`no response headers within ${headersMs} ms`)), headersMs);
  let res: Response;
  try {
    res = await fetchImpl(url, { headers, signal: controller.signal });
  } catch (err) {
    throw controller.signal.aborted ? controller.signal.reason : err;
  } finally {
    clearTimeout(timer);
  }
  if (res.body === null) return res;
  const reader = res.body.getReader();
  const body = new ReadableStream<Uint8Array>({
    async pull(out) {
      timer = setTimeout(() => controller.abort(new FetchTimeoutError(`no body bytes for ${idleMs} ms`)), idleMs);
      try {
        const { done, value } = await reader.read();
        if (done) out.close();
        else out.enqueue(value);
      } catch (err) {
        out.error(controller.signal.aborted ? controller.signal.reason : err);
      } finally {
        clearTimeout(timer);
      }
    },
    cancel: (reason) => reader.cancel(reason),
  });
  return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
}

function retryable(err: unknown): boolean {
  if (err instanceof FetchTimeoutError) return true;
  const codes = [err, (err as { cause?: unknown } | undefined)?.cause].map((e) => (e as { code?: unknown } | undefined)?.code);
  return codes.some((c) => typeof c === 'string' && RETRY_ERRNO.has(c));
}

/** An AloftError for a timeout or a failure to connect, naming what was being fetched. */
export function unreachable(err: unknown, action: string, host: string): AloftError {
  if (err instanceof AloftError) return err;
  if (err instanceof FetchTimeoutError) {
    return new AloftError('IMAGE_PULL_FAILED', `Cannot ${action} as registry ${host} must answer in time: got ${err.message}`, { cause: err });
  }
  const cause = err instanceof Error ? ((err.cause as Error | undefined)?.message ?? err.message) : String(err);
  return new AloftError('IMAGE_NOT_FOUND', `Cannot ${action} as registry ${host} must be reachable: got ${cause}`, { cause: err });
}
