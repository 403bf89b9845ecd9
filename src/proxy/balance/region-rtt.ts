import { invalidField } from '../../lib/errors.ts';

/** Round-trip times in ms between regions: `{ "ams": { "iad": 80 } }`. */
export type RegionRttTable = Readonly<Record<string, Readonly<Record<string, number>>>>;

/** How far a Machine's region is from the edge, in ms; unknown pairs are this far. */
export const UNKNOWN_RTT_MS = Number.POSITIVE_INFINITY;

const REGION = /^[a-z0-9-]{1,32}$/;

/**
 * Checks a configured RTT table: region names like Fly's ("ams", "iad") and RTTs
 * that are finite, non-negative numbers.
 */
export function validateRttTable(table: unknown): RegionRttTable {
  if (typeof table !== 'object' || table === null || Array.isArray(table)) {
    throw invalidField('configure proxy', 'rtt', 'an object of region → { region → ms }', table);
  }
  for (const [from, row] of Object.entries(table)) {
    if (!REGION.test(from)) throw invalidField('configure proxy', 'rtt', 'keyed by region names such as "ams"', from);
    if (typeof row !== 'object' || row === null || Array.isArray(row)) {
      throw invalidField('configure proxy', `rtt.${from}`, 'an object of region → ms', row);
    }
    for (const [to, ms] of Object.entries(row as Record<string, unknown>)) {
      if (!REGION.test(to)) throw invalidField('configure proxy', `rtt.${from}`, 'keyed by region names such as "iad"', to);
      if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) {
        throw invalidField('configure proxy', `rtt.${from}.${to}`, 'a finite number of milliseconds ≥ 0', ms);
      }
    }
  }
  return table as RegionRttTable;
}

/**
 * The RTT from region `from` to region `to`: 0 for the same region, the table's
 * figure either way round (a measurement from one side serves both), else unknown
 * (farther than anything measured).
 */
export function rttBetween(table: RegionRttTable, from: string, to: string): number {
  if (from === to) return 0;
  return table[from]?.[to] ?? table[to]?.[from] ?? UNKNOWN_RTT_MS;
}
