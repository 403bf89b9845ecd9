import type { ProxyContext } from './context.ts';

/**
 * The answers the edge gives itself instead of a backend's, one catalogue so codes
 * stay stable for clients and for metrics. (Candidates for lib/error-codes.ts once
 * the proxy's codes settle; kept here while only the proxy answers them.)
 */
export const PROXY_ANSWERS = {
  /** The Host names no app under the edge's domain. */
  PROXY_NO_ROUTE: { status: 404 },
  /** The Host names an app the store does not have. */
  APP_NOT_FOUND: { status: 404 },
  /** The app exists but no Machine of it is started (maybe one is starting). */
  PROXY_NO_STARTED_MACHINE: { status: 503 },
  /** No started Machine accepted a connection. */
  PROXY_BACKEND_UNREACHABLE: { status: 502 },
  /** The backend failed after the request was sent and before it answered. */
  PROXY_BACKEND_FAILED: { status: 502 },
  /** A bug in the proxy itself. */
  PROXY_INTERNAL: { status: 500 },
} as const satisfies Record<string, { status: number }>;

export type ProxyAnswerCode = keyof typeof PROXY_ANSWERS;

/**
 * Ends the response with a proxy answer: status from the catalogue, a small JSON body
 * `{"error": message, "code": code}` (the Machines API's error shape, readable as
 * text too), Fly-Request-Id, and any extra headers (Retry-After…). Does nothing once
 * headers are out.
 */
export function answer(
  ctx: ProxyContext,
  code: ProxyAnswerCode,
  message: string,
  headers: Record<string, string> = {},
): void {
  const { res } = ctx;
  if (res.headersSent || res.destroyed) return;
  const body = `${JSON.stringify({ error: message, code })}\n`;
  res.statusCode = PROXY_ANSWERS[code].status;
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.setHeader('content-length', Buffer.byteLength(body));
  res.setHeader('aloft-error', code);
  res.setHeader('fly-request-id', ctx.requestId);
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  res.end(body);
}
