/**
 * Why a backend exchange failed, with a stable `code` the retry policy reads
 * (retry-policy.ts). Socket errors keep Node's own codes (ECONNREFUSED, ECONNRESET…);
 * these are the ones the backend client makes itself. `UND_ERR_*` names are kept
 * where they mean the same as undici's, so logs and the retry policy read alike.
 */
export type BackendErrorCode =
  /** Connecting took longer than the connect timeout. */
  | 'UND_ERR_CONNECT_TIMEOUT'
  /** The connection closed or failed under a request. */
  | 'UND_ERR_SOCKET'
  /** No response head within the headers timeout. */
  | 'UND_ERR_HEADERS_TIMEOUT'
  /** The response body stalled longer than the body timeout. */
  | 'UND_ERR_BODY_TIMEOUT'
  /** The backend's response could be read more than one way, or not at all. */
  | 'ALOFT_BACKEND_PROTOCOL'
  /** The pools were closed. */
  | 'ALOFT_BACKEND_CLOSED';

export class BackendError extends Error {
  readonly code: BackendErrorCode;

  constructor(code: BackendErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BackendError';
    this.code = code;
  }
}
