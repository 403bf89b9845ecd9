import { ERROR_CODES, type ErrorCode } from '../lib/errors.ts';
import type { ProxyContext } from './context.ts';

/**
 * The codes the edge answers with itself instead of a backend's. Status, kind and
 * summary live in the one catalogue (lib/error-codes.ts) so the codes stay unique and
 * stable for clients and metrics; this list only says which of them the proxy uses.
 */
export const PROXY_ANSWER_CODES = [
  'PROXY_NO_ROUTE',
  'APP_NOT_FOUND',
  'PROXY_NO_STARTED_MACHINE',
  'PROXY_BACKEND_UNREACHABLE',
  'PROXY_BACKEND_FAILED',
  'PROXY_INTERNAL',
  'PROXY_AT_CAPACITY',
  'PROXY_FORCED_TARGET_UNAVAILABLE',
  'PROXY_AUTOSTART_FAILED',
  'PROXY_BAD_REQUEST',
  'PROXY_TOO_MANY_HEADERS',
  'PROXY_RATE_LIMITED',
  'PROXY_REPLAY_INVALID',
  'PROXY_REPLAY_FAILED',
  'PROXY_REPLAY_TOO_LARGE',
  'PROXY_REPLAY_LOOP',
] as const satisfies readonly ErrorCode[];

export type ProxyAnswerCode = (typeof PROXY_ANSWER_CODES)[number];

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
  res.statusCode = ERROR_CODES[code].status;
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.setHeader('content-length', Buffer.byteLength(body));
  res.setHeader('aloft-error', code);
  res.setHeader('fly-request-id', ctx.requestId);
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  res.end(body);
}
