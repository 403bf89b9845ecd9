import { AloftError } from '../lib/errors.ts';

/**
 * Reads `aloft secrets import`'s stdin as flyctl reads `fly secrets import`'s:
 * `NAME=VALUE` per line; blank lines and lines starting with `#` skipped; spaces around
 * the name and before the value dropped; a value wrapped in `"…"` loses the quotes; a
 * value starting with `"""` runs over lines until one ending in `"""` (the newlines kept).
 * Later lines win over earlier ones. Values are not checked here (the API does that).
 * Errors name the line number, never the line: it may hold a secret.
 */
export function parseSecretsImport(text: string): Record<string, string> {
  const secrets: Record<string, string> = {};
  const lines = text.split(/\r?\n/);
  if (lines.at(-1) === '') lines.pop();
  let multiline: { name: string; value: string; line: number } | undefined;
  lines.forEach((line, index) => {
    if (multiline) {
      if (line.endsWith('"""')) {
        secrets[multiline.name] = multiline.value + line.slice(0, -3);
        multiline = undefined;
      } else {
        multiline.value += `${line}\n`;
      }
      return;
    }
    if (line.startsWith('#') || line.trim() === '') return;
    const eq = line.indexOf('=');
    if (eq === -1) {
      throw new AloftError('SECRET_INVALID', `Cannot import secrets as line ${index + 1} must be NAME=VALUE: got a line without "="`, { details: { line: index + 1 } });
    }
    const name = line.slice(0, eq).trim();
    let value = line.slice(eq + 1).replace(/^ +/, '');
    if (value.startsWith('"""')) {
      multiline = { name, value: `${value.slice(3)}\n`, line: index + 1 };
      return;
    }
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    secrets[name] = value;
  });
  if (multiline) {
    throw new AloftError('SECRET_INVALID', `Cannot import secrets as the multi-line value of ${multiline.name} (from line ${multiline.line}) must end with a line ending in """: got the end of input`, {
      details: { line: multiline.line },
    });
  }
  return secrets;
}
