/** A check's verdict, as Fly's Machines API names them. */
export type CheckVerdict = 'passing' | 'warning' | 'critical';

/**
 * The latest result of one of a Machine's health checks, as the host's agent records
 * it (Fly's `CheckStatus`). Reset to `warning` at every start of the Machine, so a
 * status always belongs to the run that is current.
 */
export interface MachineCheckStatus {
  /** The check's name: its key in `config.checks`, or `servicecheck-NN-<type>-<port>`. */
  name: string;
  status: CheckVerdict;
  /** What the last probe said, cut to CHECK_OUTPUT_MAX_BYTES. */
  output: string;
  /** When the status last changed (ms since the epoch). */
  updatedAt: number;
}

/** Check output is cut to this many bytes: it is for a person to read, and lives in every Machine record. */
export const CHECK_OUTPUT_MAX_BYTES = 256;

/** `text` cut to at most `max` UTF-8 bytes without splitting a character, with "…" when cut. */
export function truncateCheckOutput(text: string, max = CHECK_OUTPUT_MAX_BYTES): string {
  if (Buffer.byteLength(text) <= max) return text;
  let out = '';
  let bytes = 0;
  const room = max - Buffer.byteLength('…');
  for (const ch of text) {
    const size = Buffer.byteLength(ch);
    if (bytes + size > room) break;
    out += ch;
    bytes += size;
  }
  return `${out}…`;
}
