import type { IncomingHttpHeaders } from 'node:http';
import { z } from 'zod';
import { AloftError, formatValue } from '../../lib/errors.ts';

/** The media type of Fly's JSON replay form: the directive is the response body. */
export const REPLAY_JSON_TYPE = 'application/vnd.fly.replay+json';
const REPLAY_JSON_MEDIA = /^\s*application\/vnd\.fly\.replay\+json\s*(?:;|$)/i;

/** What a Machine asked for with `fly-replay` (header or JSON form), validated. */
export interface ReplayDirective {
  /** Regions in order of preference, lowercased; `any` matches every region. */
  regions: string[] | undefined;
  /** Only this Machine may take the replay. */
  instance: string | undefined;
  /** This Machine if it can take it, else any other candidate. */
  preferInstance: string | undefined;
  /** Another app of the same org (default: the app that answered). */
  app: string | undefined;
  /** Passed on, untouched, in `fly-replay-src`. */
  state: string | undefined;
  /** Leave the Machine that answered out of the choice. */
  elsewhere: boolean;
  /** How long to keep trying to reach the target before the replay fails. */
  timeoutMs: number | undefined;
  /** Where the request goes back to when the replay fails (Fly's `fallback`). */
  fallback: 'force_self' | 'prefer_self' | undefined;
  /** JSON form only: the path (and query) the replayed request carries instead. */
  path: string | undefined;
  /** JSON form only: request headers to set on the replayed request. */
  setHeaders: [string, string][];
}

/** True when a backend response is a replay request rather than an answer for the client. */
export function isReplayResponse(headers: IncomingHttpHeaders): boolean {
  if (headers['fly-replay'] !== undefined) return true;
  const type = headers['content-type'];
  // The media type before any parameters, trimmed and case-insensitive; one regex
  // test, as this runs on every response.
  return typeof type === 'string' && REPLAY_JSON_MEDIA.test(type);
}

function invalid(field: string, rule: string, value: unknown): AloftError {
  return new AloftError(
    'PROXY_REPLAY_INVALID',
    `Cannot replay request as '${field}' must be ${rule}: got ${formatValue(value)}`,
  );
}

const TOKEN = /^[A-Za-z0-9._:-]+$/;
const REGION = /^[a-z0-9-]+$/;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** Milliseconds from a Go-style duration Fly accepts ("800ms", "10s", "1.5s", "2m"). */
export function parseDuration(field: string, text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(text.trim());
  if (match === null) throw invalid(field, 'a duration such as "800ms" or "10s"', text);
  const n = Number(match[1]);
  const ms = match[2] === 'ms' ? n : match[2] === 's' ? n * 1000 : n * 60_000;
  if (ms <= 0 || ms > 3_600_000) throw invalid(field, 'a duration from 1ms to 1h', text);
  return Math.ceil(ms);
}

/** Raw field values (strings as sent, or JSON values) into a checked directive. */
function build(fields: Record<string, unknown>, where: string): ReplayDirective {
  const text = (name: string, pattern: RegExp, rule: string): string | undefined => {
    const value = fields[name];
    if (value === undefined) return undefined;
    if (typeof value !== 'string' || !pattern.test(value)) throw invalid(`${where}.${name}`, rule, value);
    return value;
  };
  let regions: string[] | undefined;
  const region = fields['region'];
  if (region !== undefined) {
    const list = Array.isArray(region) ? region : typeof region === 'string' ? region.split(',') : undefined;
    regions = list?.map((r) => (typeof r === 'string' ? r.trim().toLowerCase() : ''));
    if (regions === undefined || regions.length === 0 || regions.some((r) => !REGION.test(r))) {
      throw invalid(`${where}.region`, 'a comma-separated list of region codes such as "ams,any"', region);
    }
  }
  const elsewhereRaw = fields['elsewhere'];
  let elsewhere = false;
  if (elsewhereRaw !== undefined) {
    if (elsewhereRaw === true || elsewhereRaw === 'true') elsewhere = true;
    else if (elsewhereRaw !== false && elsewhereRaw !== 'false') throw invalid(`${where}.elsewhere`, 'true or false', elsewhereRaw);
  }
  const timeout = fields['timeout'];
  if (timeout !== undefined && typeof timeout !== 'string') throw invalid(`${where}.timeout`, 'a duration string', timeout);
  const fallback = fields['fallback'];
  if (fallback !== undefined && fallback !== 'force_self' && fallback !== 'prefer_self') {
    throw invalid(`${where}.fallback`, '"force_self" or "prefer_self"', fallback);
  }
  const state = fields['state'];
  if (state !== undefined && (typeof state !== 'string' || /[\r\n\0]/.test(state) || state.length > 1024)) {
    throw invalid(`${where}.state`, 'a string of at most 1024 characters on one line', state);
  }
  return {
    regions,
    instance: text('instance', TOKEN, 'a Machine id'),
    preferInstance: text('prefer_instance', TOKEN, 'a Machine id'),
    app: text('app', /^[a-z0-9][a-z0-9-]*$/, 'an app name'),
    state,
    elsewhere,
    timeoutMs: timeout === undefined ? undefined : parseDuration(`${where}.timeout`, timeout),
    fallback,
    path: undefined,
    setHeaders: [],
  };
}

/**
 * Parses the `fly-replay` header: `field=value` pairs separated by `;`, values
 * optionally double-quoted (a comma-separated region list must be). Several headers
 * are read as one. Unknown fields are ignored, as Fly adds fields over time.
 */
export function parseReplayHeader(value: string | string[]): ReplayDirective {
  const text = Array.isArray(value) ? value.join(';') : value;
  const fields: Record<string, string> = {};
  // A field is name=token or name="quoted" (no escapes needed for Fly's fields).
  const part = /\s*([A-Za-z_]+)\s*=\s*(?:"([^"]*)"|([^;"]*))\s*(?:;|$)/y;
  let at = 0;
  while (at < text.length) {
    part.lastIndex = at;
    const match = part.exec(text);
    if (match === null || match[0] === '') throw invalid('fly-replay', 'a list of field=value pairs separated by ";"', text);
    fields[match[1]!.toLowerCase()] = (match[2] ?? match[3] ?? '').trim();
    at = part.lastIndex;
  }
  if (Object.keys(fields).length === 0) throw invalid('fly-replay', 'at least one field such as region=ams', text);
  return build(fields, 'fly-replay');
}

const headerList = z.union([
  z.array(z.object({ name: z.string(), value: z.string() })),
  z.record(z.string(), z.string()),
]);
const jsonForm = z
  .object({
    transform: z.object({ path: z.string().optional(), set_headers: headerList.optional() }).passthrough().optional(),
  })
  .passthrough();

/**
 * Parses the JSON form (`content-type: application/vnd.fly.replay+json`): the same
 * fields as the header as an object, plus `transform` with `path` (replaces the path
 * and query) and `set_headers` (a list of {name, value}, or an object). `cache` is
 * accepted and ignored: aloft keeps no replay cache.
 */
export function parseReplayJson(body: Buffer): ReplayDirective {
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch {
    throw invalid('fly-replay body', 'a JSON object', body.subarray(0, 200).toString('utf8'));
  }
  const parsed = jsonForm.safeParse(value);
  if (!parsed.success || value === null || Array.isArray(value)) {
    throw invalid('fly-replay body', 'a JSON object with fly-replay fields', value);
  }
  const directive = build(parsed.data as Record<string, unknown>, 'fly-replay body');
  const transform = parsed.data.transform;
  if (transform?.path !== undefined) {
    if (!transform.path.startsWith('/') || /[\s\0]/.test(transform.path)) {
      throw invalid('fly-replay body.transform.path', 'an origin-form path starting with "/"', transform.path);
    }
    directive.path = transform.path;
  }
  const set = transform?.set_headers;
  const pairs: [string, string][] = set === undefined ? [] : Array.isArray(set) ? set.map((h) => [h.name, h.value]) : Object.entries(set);
  for (const [name, headerValue] of pairs) {
    if (!HEADER_NAME.test(name) || /[\r\n\0]/.test(headerValue)) {
      throw invalid('fly-replay body.transform.set_headers', 'header names and single-line values', { name, value: headerValue });
    }
  }
  directive.setHeaders = pairs;
  return directive;
}

/** The directive a replay response carries: its JSON body when typed so, else its header. */
export function readDirective(headers: IncomingHttpHeaders, body: Buffer): ReplayDirective {
  const header = headers['fly-replay'];
  if (header === undefined) return parseReplayJson(body);
  return parseReplayHeader(header);
}
