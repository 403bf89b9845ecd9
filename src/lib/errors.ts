import { ERROR_CODES, type ErrorCode } from './error-codes.ts';

export { ERROR_CODES, type ErrorCode };

/**
 * The one error type of aloft. `code` comes from the catalogue in error-codes.ts, which
 * also gives the HTTP status and whether the fault is the user's or the system's.
 * Messages follow STYLE.md: "Cannot <action> as '<field>' must be <rule>: got <value>".
 */
export class AloftError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly kind: 'user' | 'system';
  /** Optional machine-readable detail (the field that failed, the value…). */
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; details?: Record<string, unknown> } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AloftError';
    this.code = code;
    this.status = ERROR_CODES[code].status;
    this.kind = ERROR_CODES[code].kind;
    this.details = options.details;
  }
}

/** True when `err` is an AloftError, optionally of the given code. */
export function isAloftError(err: unknown, code?: ErrorCode): err is AloftError {
  return err instanceof AloftError && (code === undefined || err.code === code);
}

/**
 * An error for a field that failed a rule, in the house format:
 * "Cannot create machine as 'config.image' must be a non-empty string: got """.
 */
export function invalidField(action: string, field: string, rule: string, value: unknown): AloftError {
  return new AloftError('INVALID_ARGUMENT', `Cannot ${action} as '${field}' must be ${rule}: got ${formatValue(value)}`, {
    details: { field, rule },
  });
}

/** Renders a value for an error message: short, JSON where possible. */
export function formatValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  let text: string;
  try {
    text = typeof value === 'string' ? JSON.stringify(value) : (JSON.stringify(value) ?? String(value));
  } catch {
    text = String(value);
  }
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}

/** Wraps anything thrown into an AloftError, keeping AloftErrors as they are. */
export function toAloftError(err: unknown, fallback: ErrorCode = 'INTERNAL'): AloftError {
  if (err instanceof AloftError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new AloftError(fallback, message, { cause: err });
}
