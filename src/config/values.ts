import { z } from 'zod';
import { splitShellWords } from './shell-words.ts';

/**
 * The value rules of fly.toml, each a zod schema that accepts the spellings real files
 * use and outputs one normal form. The schema's issue message is the rule itself, so
 * the error reads "… must be <rule>: got <value>".
 */
function rule<T>(text: string, read: (value: unknown) => T | undefined) {
  return z.unknown().transform((value, ctx): T => {
    const out = read(value);
    if (out === undefined) {
      ctx.addIssue({ code: 'custom', message: text });
      return z.NEVER;
    }
    return out;
  });
}

const integerText = /^\s*[+]?\d[\d_]*\s*$/;

function asInteger(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isInteger(value) ? value : undefined;
  if (typeof value === 'string' && integerText.test(value)) return Number(value.replace(/_/g, ''));
  return undefined;
}

/** A port, as a number or a numeric string ("8080"), 1 to 65535. */
export const portValue = rule('a port from 1 to 65535', (v) => {
  const n = asInteger(v);
  return n !== undefined && n >= 1 && n <= 65535 ? n : undefined;
});

/** A whole number ≥ 0 (TOML's 10_000 arrives as a number already). */
export const countValue = rule('a whole number of 0 or more', (v) => {
  const n = asInteger(v);
  return n !== undefined && n >= 0 ? n : undefined;
});

/** true or false; strings such as "yes" are errors. */
export const boolValue = rule('true or false', (v) => (typeof v === 'boolean' ? v : undefined));

/** A string. */
export const stringValue = rule('a string', (v) => (typeof v === 'string' ? v : undefined));

/** A list of strings; a lone string is read as a one-item list. */
export const stringListValue = rule('a list of strings', (v) => {
  if (typeof v === 'string') return [v];
  return Array.isArray(v) && v.every((s) => typeof s === 'string') ? (v as string[]) : undefined;
});

const DURATION_UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Parses a Go duration ("10s", "1m30s", "500ms") into milliseconds. */
export function goDurationMs(text: string): number | undefined {
  const trimmed = text.trim();
  let total = 0;
  let consumed = 0;
  for (const m of trimmed.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)) {
    total += Number(m[1]) * DURATION_UNITS[m[2]!]!;
    consumed += m[0].length;
  }
  return consumed > 0 && consumed === trimmed.length ? Math.round(total) : undefined;
}

/** A duration: a number of milliseconds (Fly's rule for numbers) or a string with units. Output: ms. */
export const durationValue = rule('a duration: milliseconds as a number, or a string with units such as "10s" or "1m30s"', (v) => {
  if (typeof v === 'number') return Number.isFinite(v) && v >= 0 ? Math.round(v) : undefined;
  return typeof v === 'string' ? goDurationMs(v) : undefined;
});

/** kill_timeout: Fly reads a bare number as seconds ("kill_timeout = 5"), a string as a duration; at most 300 s. */
export const killTimeoutValue = rule('a duration of at most 300s: seconds as a number, or a string such as "30s"', (v) => {
  const ms = typeof v === 'number' ? (Number.isFinite(v) && v >= 0 ? Math.round(v * 1000) : undefined) : typeof v === 'string' ? goDurationMs(v) : undefined;
  return ms !== undefined && ms <= 300_000 ? ms : undefined;
});

const SIZE_UNITS_MB: Record<string, number> = { '': 1, k: 1 / 1024, kb: 1 / 1024, kib: 1 / 1024, m: 1, mb: 1, mib: 1, g: 1024, gb: 1024, gib: 1024, t: 1024 * 1024, tb: 1024 * 1024, tib: 1024 * 1024 };

/** Reads "256mb", "1gb", "2048", "50G" or a number, in `unitlessMb` MB per bare unit. */
function sizeMb(v: unknown, unitlessMb: number): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) && v > 0 ? v * unitlessMb : undefined;
  if (typeof v !== 'string') return undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(v.replace(/_/g, ''));
  if (!m) return undefined;
  const unit = m[2]!.toLowerCase();
  const factor = unit === '' ? unitlessMb : SIZE_UNITS_MB[unit];
  return factor === undefined ? undefined : Number(m[1]) * factor;
}

/** VM memory: a number of MB or a size string ("256mb", "1gb", "2048"). Output: whole MB. */
export const memoryValue = rule('a memory size: MB as a number, or a string such as "256mb" or "1gb"', (v) => {
  const mb = sizeMb(v, 1);
  return mb !== undefined && Number.isInteger(mb) && mb >= 64 ? mb : undefined;
});

/** A volume size: a number of GB or a size string ("20gb", "50G", "1GB"). Output: whole GB. */
export const volumeSizeValue = rule('a volume size: GB as a number, or a string such as "10gb"', (v) => {
  const mb = sizeMb(v, 1024);
  if (mb === undefined) return undefined;
  const gb = mb / 1024;
  return Number.isInteger(gb) && gb >= 1 ? gb : undefined;
});

/** auto_stop_machines: true/false or "off"/"stop"/"suspend". Output: the string form (true → "stop"). */
export const autostopValue = rule('true, false, "off", "stop" or "suspend"', (v) => {
  if (v === true) return 'stop' as const;
  if (v === false) return 'off' as const;
  return v === 'off' || v === 'stop' || v === 'suspend' ? v : undefined;
});

/** A signal name; case-insensitive, "SIG" optional ("term" → "SIGTERM"). */
export const signalValue = rule('a signal name such as "SIGTERM"', (v) => {
  if (typeof v !== 'string' || !/^(sig)?[a-z0-9]+$/i.test(v)) return undefined;
  const upper = v.toUpperCase();
  return upper.startsWith('SIG') ? upper : `SIG${upper}`;
});

/** One of a fixed list, compared case-insensitively; output lower case. */
export function oneOf<const T extends string>(values: readonly T[]) {
  return rule(`one of ${values.map((s) => `"${s}"`).join(', ')}`, (v) => {
    const lower = typeof v === 'string' ? v.toLowerCase() : undefined;
    return values.find((s) => s === lower);
  });
}

/** An env value: a string; numbers and booleans (seen in real files) become strings. */
export const envValue = rule('a string', (v) => (typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : undefined));

/** An HTTP method, upper-cased ("get" → "GET"). */
export const methodValue = rule('an HTTP method such as "GET"', (v) => (typeof v === 'string' && /^[a-z]+$/i.test(v) ? v.toUpperCase() : undefined));

/** A fraction (0.33) or a whole count of Machines. */
export const maxUnavailableValue = rule('a fraction between 0 and 1, or a whole number of Machines', (v) =>
  typeof v === 'number' && Number.isFinite(v) && v > 0 && (v < 1 || Number.isInteger(v)) ? v : undefined,
);

/** A command: a list of strings, or one string split like a shell would ("./start.sh --fast"). */
export const commandValue = rule('a command: a list of strings, or a string with balanced quotes', (v) => {
  if (typeof v === 'string') {
    const words = splitShellWords(v);
    return words && words.length > 0 ? words : undefined;
  }
  return Array.isArray(v) && v.length > 0 && v.every((s) => typeof s === 'string') ? (v as string[]) : undefined;
});
