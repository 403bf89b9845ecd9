import { AloftError, formatValue } from '../lib/errors.ts';

/**
 * The one catalogue of region codes: Fly's public regions (their codes, so fly.toml
 * `primary_region`, `--region` and fly-replay's `region=` mean the same here) plus
 * aloft's own `local`, the embedded platform's default. Every place a region is given
 * checks it against this list (requireRegion), so a typo is an error naming the value
 * with a suggestion, never a Machine that waits forever for a host that cannot exist.
 */

/** Continent-sized areas, as `fly platform regions` groups them. */
export const REGION_GROUPS = {
  'north-america': 'North America',
  'south-america': 'South America',
  europe: 'Europe',
  'asia-pacific': 'Asia Pacific',
  africa: 'Africa',
  local: 'This machine (aloft)',
} as const;
export type RegionGroup = keyof typeof REGION_GROUPS;

export interface Region {
  code: string;
  /** Where it is, as a person names it. */
  name: string;
  group: RegionGroup;
  /**
   * In the European Union: what an org's data-residency policy will allow (London is
   * Europe but not EU). Fly only has the `eu` alias; aloft means to enforce it.
   */
  eu: boolean;
}

const r = (code: string, name: string, group: RegionGroup, eu = false): Region => ({ code, name, group, eu });

/** Every region, by code. Fly's list as of 2025; `local` is aloft's. */
export const REGIONS: readonly Region[] = [
  r('ams', 'Amsterdam, Netherlands', 'europe', true),
  r('arn', 'Stockholm, Sweden', 'europe', true),
  r('cdg', 'Paris, France', 'europe', true),
  r('fra', 'Frankfurt, Germany', 'europe', true),
  r('lhr', 'London, United Kingdom', 'europe'),
  r('mad', 'Madrid, Spain', 'europe', true),
  r('otp', 'Bucharest, Romania', 'europe', true),
  r('waw', 'Warsaw, Poland', 'europe', true),
  r('atl', 'Atlanta, Georgia (US)', 'north-america'),
  r('bos', 'Boston, Massachusetts (US)', 'north-america'),
  r('den', 'Denver, Colorado (US)', 'north-america'),
  r('dfw', 'Dallas, Texas (US)', 'north-america'),
  r('ewr', 'Secaucus, NJ (US)', 'north-america'),
  r('gdl', 'Guadalajara, Mexico', 'north-america'),
  r('iad', 'Ashburn, Virginia (US)', 'north-america'),
  r('lax', 'Los Angeles, California (US)', 'north-america'),
  r('mia', 'Miami, Florida (US)', 'north-america'),
  r('ord', 'Chicago, Illinois (US)', 'north-america'),
  r('phx', 'Phoenix, Arizona (US)', 'north-america'),
  r('qro', 'Querétaro, Mexico', 'north-america'),
  r('sea', 'Seattle, Washington (US)', 'north-america'),
  r('sjc', 'San Jose, California (US)', 'north-america'),
  r('yul', 'Montreal, Canada', 'north-america'),
  r('yyz', 'Toronto, Canada', 'north-america'),
  r('bog', 'Bogotá, Colombia', 'south-america'),
  r('eze', 'Ezeiza, Argentina', 'south-america'),
  r('gig', 'Rio de Janeiro, Brazil', 'south-america'),
  r('gru', 'São Paulo, Brazil', 'south-america'),
  r('scl', 'Santiago, Chile', 'south-america'),
  r('bom', 'Mumbai, India', 'asia-pacific'),
  r('hkg', 'Hong Kong', 'asia-pacific'),
  r('nrt', 'Tokyo, Japan', 'asia-pacific'),
  r('sin', 'Singapore', 'asia-pacific'),
  r('syd', 'Sydney, Australia', 'asia-pacific'),
  r('jnb', 'Johannesburg, South Africa', 'africa'),
  r('local', 'This machine (aloft up)', 'local'),
];

const BY_CODE = new Map(REGIONS.map((region) => [region.code, region]));

/** The region with this code, if there is one. */
export function findRegion(code: string): Region | undefined {
  return BY_CODE.get(code.toLowerCase());
}

/**
 * The region `code` names, or an error in the house format naming the value and the
 * nearest code ("fr" → fra) or the region whose city was typed ("paris" → cdg).
 */
export function requireRegion(code: string, action: string, field = 'region'): Region {
  const region = findRegion(code);
  if (region) return region;
  const hint = suggestRegion(code);
  throw new AloftError(
    'REGION_UNKNOWN',
    `Cannot ${action} as '${field}' must be a region code from 'aloft regions list': got ${formatValue(code)}${hint ? `; did you mean "${hint.code}" (${hint.name})?` : ''}`,
    { details: { field, value: code, ...(hint ? { suggestion: hint.code } : {}) } },
  );
}

/**
 * A comma-separated list of regions ("ams,fra" or repeated flags), each checked,
 * duplicates dropped, order kept.
 */
export function parseRegionList(values: string | readonly string[], action: string, field = 'region'): Region[] {
  const parts = (typeof values === 'string' ? [values] : values).flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v !== '');
  const seen = new Map<string, Region>();
  for (const part of parts) {
    const region = requireRegion(part, action, field);
    seen.set(region.code, region);
  }
  return [...seen.values()];
}

/** The nearest region: by city name first (a person types "paris"), then by code spelling. */
export function suggestRegion(typed: string): Region | undefined {
  const lower = typed.trim().toLowerCase();
  if (lower === '') return undefined;
  const byName = REGIONS.find((region) => region.name.toLowerCase().split(/[ ,()]+/).includes(lower));
  if (byName) return byName;
  let best: { region: Region; distance: number } | undefined;
  for (const region of REGIONS) {
    const distance = editDistance(lower, region.code);
    if (!best || distance < best.distance) best = { region, distance };
  }
  return best && best.distance <= (lower.length <= 3 ? 1 : 2) ? best.region : undefined;
}

/** Levenshtein distance; region codes are a few letters, so the plain table is enough. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row.push(Math.min(previous[j]! + 1, row[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1)));
    }
    previous = row;
  }
  return previous[b.length]!;
}
