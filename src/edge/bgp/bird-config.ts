import { isIP } from 'node:net';
import { invalidField } from '../../lib/errors.ts';

/** An address family of a BGP channel. */
export type BirdFamily = 'ipv4' | 'ipv6';

/** Which routes a BGP session takes in: none, all, or only these prefixes; with a local preference. */
export type BirdImport = { kind: 'none' } | { kind: 'all'; localPref?: number } | { kind: 'prefixes'; prefixes: readonly string[]; localPref?: number };

/** One eBGP session of one address family (bird: one `protocol bgp`). */
export interface BirdSession {
  /** The protocol's name, used by `birdc disable/enable NAME`. */
  name: string;
  family: BirdFamily;
  localAddress: string;
  localAs: number;
  neighborAddress: string;
  neighborAs: number;
  /** BFD on this session, so a silently dead peer is noticed in interval × multiplier. */
  bfd: boolean;
  import: BirdImport;
  /** Exported: the routes of these protocols only (statics by name, other sessions by name). */
  exportFrom: readonly string[];
}

/** A static protocol: routes this bird originates (`unreachable` here: they are announced, not used locally). */
export interface BirdStatic {
  name: string;
  family: BirdFamily;
  prefixes: readonly string[];
}

/** A whole bird2 configuration. */
export interface BirdConfigSpec {
  routerId: string;
  /** Where bird logs; stderr when absent. */
  logFile?: string;
  /** Install the best routes into the namespace's kernel tables (a router does; an edge needs none). */
  kernel: boolean;
  statics: readonly BirdStatic[];
  sessions: readonly BirdSession[];
  /** BFD timers; HOST.md's measured 50 ms × 3 by default. */
  bfd?: { intervalMs: number; multiplier: number };
}

/** BFD: 50 ms × 3, a silently dead peer routed around in ~150 ms (HOST.md). */
export const DEFAULT_BFD = { intervalMs: 50, multiplier: 3 } as const;

const NAME = /^[A-Za-z][A-Za-z0-9_]{0,31}$/;
const ACTION = 'write bird config';

/**
 * Renders a bird2 configuration from a spec, checking every field first: names bird
 * accepts, addresses of the session's family, ASNs in range. Every session sets
 * `error wait time 1, 5` (else bird idles minutes after a BFD failure) and short connect
 * delays, so a healed link peers again within seconds.
 */
export function renderBirdConfig(spec: BirdConfigSpec): string {
  checkAddress(spec.routerId, 'ipv4', 'routerId');
  const bfd = spec.bfd ?? DEFAULT_BFD;
  if (!Number.isInteger(bfd.intervalMs) || bfd.intervalMs < 10 || bfd.intervalMs > 10_000) {
    throw invalidField(ACTION, 'bfd.intervalMs', 'an integer from 10 to 10000', bfd.intervalMs);
  }
  if (!Number.isInteger(bfd.multiplier) || bfd.multiplier < 1 || bfd.multiplier > 255) {
    throw invalidField(ACTION, 'bfd.multiplier', 'an integer from 1 to 255', bfd.multiplier);
  }
  const names = new Set<string>();
  const lines: string[] = [
    '# written by aloft (src/edge/bgp/bird-config.ts); edits are overwritten',
    `router id ${spec.routerId};`,
    spec.logFile === undefined ? 'log stderr all;' : `log ${quote(spec.logFile)} all;`,
    '',
    // The device protocol tells bird which interfaces are up: without it no session starts.
    'protocol device { scan time 10; }',
    '',
  ];
  if (spec.kernel) {
    for (const family of ['ipv4', 'ipv6'] as const) {
      lines.push(`protocol kernel kernel_${family === 'ipv4' ? 'v4' : 'v6'} {`, `  ${family} { import none; export all; };`, '}', '');
    }
  }
  for (const st of spec.statics) {
    checkName(st.name, names, 'statics[].name');
    lines.push(`protocol static ${st.name} {`, `  ${st.family};`);
    for (const prefix of st.prefixes) lines.push(`  route ${checkPrefix(prefix, st.family, `statics.${st.name}`)} unreachable;`);
    lines.push('}', '');
  }
  if (spec.sessions.some((s) => s.bfd)) {
    lines.push(
      'protocol bfd {',
      `  interface "*" { min rx interval ${bfd.intervalMs} ms; min tx interval ${bfd.intervalMs} ms; idle tx interval 1000 ms; multiplier ${bfd.multiplier}; };`,
      '}',
      '',
    );
  }
  for (const s of spec.sessions) lines.push(...renderSession(s, names), '');
  // Every exported protocol must exist, or bird would silently export nothing.
  for (const s of spec.sessions) {
    for (const from of s.exportFrom) {
      if (!names.has(from)) throw invalidField(ACTION, `sessions.${s.name}.exportFrom`, 'names of statics or sessions in this config', from);
    }
  }
  return `${lines.join('\n')}\n`;
}

function renderSession(s: BirdSession, names: Set<string>): string[] {
  checkName(s.name, names, 'sessions[].name');
  checkAddress(s.localAddress, s.family, `sessions.${s.name}.localAddress`);
  checkAddress(s.neighborAddress, s.family, `sessions.${s.name}.neighborAddress`);
  checkAs(s.localAs, `sessions.${s.name}.localAs`);
  checkAs(s.neighborAs, `sessions.${s.name}.neighborAs`);
  const exportRule = s.exportFrom.length === 0 ? 'none' : `where ${s.exportFrom.map((p) => `proto = ${quote(p)}`).join(' || ')}`;
  return [
    `protocol bgp ${s.name} {`,
    `  local ${s.localAddress} as ${s.localAs};`,
    `  neighbor ${s.neighborAddress} as ${s.neighborAs};`,
    ...(s.bfd ? ['  bfd on;'] : []),
    // Defaults are 60 s and 300 s: a lab link that heals would stay down for minutes.
    '  error wait time 1, 5;',
    '  connect delay time 1;',
    '  connect retry time 2;',
    '  hold time 9;',
    `  ${s.family} {`,
    `    import ${renderImport(s.import, s.family, s.name)};`,
    `    export ${exportRule};`,
    '  };',
    '}',
  ];
}

function renderImport(rule: BirdImport, family: BirdFamily, name: string): string {
  if (rule.kind === 'none') return 'none';
  const pref = rule.localPref;
  if (pref !== undefined && (!Number.isInteger(pref) || pref < 0 || pref > 4_294_967_295)) {
    throw invalidField(ACTION, `sessions.${name}.import.localPref`, 'an integer from 0 to 4294967295', pref);
  }
  const set = pref === undefined ? '' : `bgp_local_pref = ${pref}; `;
  if (rule.kind === 'all') return set === '' ? 'all' : `filter { ${set}accept; }`;
  const prefixes = rule.prefixes.map((p) => checkPrefix(p, family, `sessions.${name}.import.prefixes`));
  if (prefixes.length === 0) return 'none';
  return `filter { if net ~ [ ${prefixes.join(', ')} ] then { ${set}accept; } reject; }`;
}

function checkName(name: string, seen: Set<string>, field: string): void {
  if (typeof name !== 'string' || !NAME.test(name)) throw invalidField(ACTION, field, 'a bird protocol name: a letter then up to 31 of [A-Za-z0-9_]', name);
  if (seen.has(name)) throw invalidField(ACTION, field, 'unique in the config', name);
  seen.add(name);
}

function checkAddress(address: string, family: BirdFamily, field: string): void {
  if (isIP(address) !== (family === 'ipv4' ? 4 : 6)) throw invalidField(ACTION, field, `an ${family === 'ipv4' ? 'IPv4' : 'IPv6'} address`, address);
}

function checkAs(asn: number, field: string): void {
  if (!Number.isInteger(asn) || asn < 1 || asn > 4_294_967_294) throw invalidField(ACTION, field, 'an AS number from 1 to 4294967294', asn);
}

/** A prefix `addr/len` of the family; returned as given. */
function checkPrefix(prefix: string, family: BirdFamily, field: string): string {
  const [address = '', length = '', ...rest] = String(prefix).split('/');
  const max = family === 'ipv4' ? 32 : 128;
  const bits = Number(length);
  if (rest.length > 0 || isIP(address) !== (family === 'ipv4' ? 4 : 6) || !/^\d{1,3}$/.test(length) || bits > max) {
    throw invalidField(ACTION, field, `${family === 'ipv4' ? 'IPv4' : 'IPv6'} prefixes such as ${family === 'ipv4' ? '203.0.113.1/32' : '2001:db8::1/128'}`, prefix);
  }
  return prefix;
}

/** A bird string literal. Paths with quotes or backslashes are refused rather than escaped. */
function quote(text: string): string {
  if (/["\\\n]/.test(text)) throw invalidField(ACTION, 'logFile', 'a path without quotes, backslashes or newlines', text);
  return `"${text}"`;
}
