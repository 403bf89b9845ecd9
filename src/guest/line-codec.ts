/**
 * The token encoding shared by the guest channel (PROTOCOL.md) and the run config: a line
 * of `key=value` tokens separated by spaces, each value percent-encoded so that it never
 * holds a space, newline or `%` raw. Chosen because the C side decodes it in a dozen lines.
 */

/** Bytes written raw; everything else becomes %XX. Keep in step with aloft-init.c. */
const SAFE = /^[A-Za-z0-9\-_.~/:,=@+]$/;
const SAFE_BYTES = new Uint8Array(256);
for (let b = 0; b < 128; b += 1) SAFE_BYTES[b] = SAFE.test(String.fromCharCode(b)) ? 1 : 0;

/** Percent-encodes a string (as UTF-8) or raw bytes. */
export function encodeValue(value: string | Uint8Array): string {
  const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  let out = '';
  for (const b of bytes) {
    out += SAFE_BYTES[b] === 1 ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** Decodes a percent-encoded value to bytes; a `%` not followed by two hex digits is kept as is. */
export function decodeValueBytes(text: string): Buffer {
  const out = Buffer.alloc(text.length);
  let n = 0;
  for (let i = 0; i < text.length; i += 1) {
    const c = text.charCodeAt(i);
    if (c === 0x25 && /^[0-9a-fA-F]{2}$/.test(text.slice(i + 1, i + 3))) {
      out[n++] = parseInt(text.slice(i + 1, i + 3), 16);
      i += 2;
    } else {
      out[n++] = c & 0xff;
    }
  }
  return out.subarray(0, n);
}

/** Decodes a percent-encoded value to a UTF-8 string. */
export function decodeValue(text: string): string {
  return decodeValueBytes(text).toString('utf8');
}

/** One token of a line, in order. */
export interface Token {
  key: string;
  value: string;
}

/** Renders `verb key=value…` (values already strings or bytes; they get encoded here). */
export function encodeLine(verb: string, fields: ReadonlyArray<readonly [string, string | number | Uint8Array]>): string {
  const parts = [verb];
  for (const [key, value] of fields) {
    parts.push(`${key}=${encodeValue(typeof value === 'number' ? String(value) : value)}`);
  }
  return `${parts.join(' ')}\n`;
}

/** Splits a line (without its newline) into its verb and raw (still encoded) tokens. */
export function splitLine(line: string): { verb: string; tokens: Token[] } {
  const words = line.split(' ').filter((w) => w !== '');
  const verb = words.shift() ?? '';
  const tokens: Token[] = [];
  for (const word of words) {
    const eq = word.indexOf('=');
    if (eq <= 0) continue;
    tokens.push({ key: word.slice(0, eq), value: word.slice(eq + 1) });
  }
  return { verb, tokens };
}
