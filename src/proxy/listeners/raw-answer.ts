import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { ERROR_CODES } from '../../lib/errors.ts';
import type { ProxyAnswerCode } from '../answers.ts';

/**
 * Answers on a bare socket (an `Upgrade` request has no ServerResponse) in the same
 * shape as `answer`: status from the catalogue, a JSON body, Aloft-Error and
 * Fly-Request-Id; then closes the connection.
 */
export function rawAnswer(socket: Duplex, code: ProxyAnswerCode, message: string, requestId: string, extra: Record<string, string> = {}): void {
  if (socket.destroyed || !socket.writable) return;
  const status = ERROR_CODES[code].status;
  const body = `${JSON.stringify({ error: message, code })}\n`;
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n` +
      'content-type: application/json; charset=utf-8\r\n' +
      `content-length: ${Buffer.byteLength(body)}\r\n` +
      Object.entries(extra).map(([name, value]) => `${name}: ${value}\r\n`).join('') +
      `aloft-error: ${code}\r\nfly-request-id: ${requestId}\r\nconnection: close\r\n\r\n${body}`,
  );
}
