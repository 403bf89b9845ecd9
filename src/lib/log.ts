import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * The root logger. Structured JSON (pino) to stderr; level from ALOFT_LOG (default
 * `info`, `silent` in tests unless ALOFT_LOG is set). Parts take a child logger with
 * their name: `log.child({ part: 'agent' })`.
 */
export function createLogger(options: { level?: string; destination?: number | string } = {}): Logger {
  const level = options.level ?? process.env['ALOFT_LOG'] ?? (process.env['NODE_TEST_CONTEXT'] ? 'silent' : 'info');
  return pino({ level, base: null }, pino.destination({ dest: options.destination ?? 2, sync: false }));
}

/** A logger that drops everything; for unit tests and library use. */
export const silentLogger: Logger = pino({ level: 'silent' });
