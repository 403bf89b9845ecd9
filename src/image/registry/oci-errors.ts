import type { ServerResponse } from 'node:http';
import { toAloftError, type ErrorCode } from '../../lib/errors.ts';

// The spec's error codes for aloft's own. Anything not listed is a fault of ours or a
// generic one, which the spec has no code for beyond UNKNOWN-style answers.
const SPEC_CODES: Partial<Record<ErrorCode, string>> = {
  REGISTRY_BLOB_UNKNOWN: 'BLOB_UNKNOWN',
  REGISTRY_BLOB_UPLOAD_UNKNOWN: 'BLOB_UPLOAD_UNKNOWN',
  REGISTRY_BLOB_UPLOAD_INVALID: 'BLOB_UPLOAD_INVALID',
  REGISTRY_DIGEST_INVALID: 'DIGEST_INVALID',
  REGISTRY_MANIFEST_INVALID: 'MANIFEST_INVALID',
  REGISTRY_MANIFEST_UNKNOWN: 'MANIFEST_UNKNOWN',
  REGISTRY_MANIFEST_BLOB_UNKNOWN: 'MANIFEST_BLOB_UNKNOWN',
  REGISTRY_NAME_INVALID: 'NAME_INVALID',
  REGISTRY_NAME_UNKNOWN: 'NAME_UNKNOWN',
  REGISTRY_RANGE_INVALID: 'RANGE_INVALID',
  REGISTRY_UNSUPPORTED: 'UNSUPPORTED',
  REGISTRY_DENIED: 'DENIED',
  UNAUTHORIZED: 'UNAUTHORIZED',
  PAYLOAD_TOO_LARGE: 'SIZE_INVALID',
  NOT_FOUND: 'NOT_FOUND',
};

/** The spec's code for an aloft error code ("UNKNOWN" when it has none). */
export function specCode(code: ErrorCode): string {
  return SPEC_CODES[code] ?? 'UNKNOWN';
}

/**
 * Answers with the spec's error body, `{"errors":[{code,message,detail}]}`, and the
 * status from aloft's catalogue (a 401 with a Basic challenge). Returns the AloftError for logging.
 */
export function sendError(res: ServerResponse, err: unknown, head: boolean): ReturnType<typeof toAloftError> {
  const error = toAloftError(err);
  const body = JSON.stringify({ errors: [{ code: specCode(error.code), message: error.message, detail: error.details ?? {} }] });
  if (res.headersSent) {
    res.destroy();
    return error;
  }
  // The spec (and RFC 9110) want a challenge with every 401: docker and skopeo send
  // their credentials only after one.
  const challenge = error.status === 401 ? { 'WWW-Authenticate': 'Basic realm="aloft"' } : {};
  res.writeHead(error.status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body), ...challenge });
  res.end(head ? undefined : body);
  return error;
}
