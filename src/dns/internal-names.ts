/**
 * The names under `.internal` that aloft answers (PLATFORM.md, "Private networking and
 * DNS"), read from a lowercased query name. Anything else under `.internal` is
 * `unknown` (NXDOMAIN); names outside it are `external` (forwarded upstream).
 */
export type InternalName =
  /** AAAA: every started Machine of the app (`<app>.internal`, `global.<app>.internal`). */
  | { kind: 'app'; app: string }
  /** AAAA: the app's started Machines in one region. */
  | { kind: 'region'; app: string; region: string }
  /** AAAA: the `count` started Machines nearest the asking host's region. */
  | { kind: 'nearest'; app: string; count: number }
  /** AAAA: one started Machine by id. */
  | { kind: 'vm'; app: string; machineId: string }
  /** AAAA: the app's started Machines of one process group. */
  | { kind: 'process'; app: string; group: string }
  /** TXT: "id region,id region" of the app's started Machines. */
  | { kind: 'vms'; app: string }
  /** TXT: the regions the app has started Machines in. */
  | { kind: 'regions'; app: string }
  /** TXT: the asking org's apps. */
  | { kind: 'apps' }
  /** TXT: the org's WireGuard peers. */
  | { kind: 'peers' }
  /** TXT: every started Machine of the org, "instance=<id>,app=<app>,ip=<6pn>,region=<r>;…" (Fly's). */
  | { kind: 'instances' }
  | { kind: 'unknown' }
  | { kind: 'external' };

export const INTERNAL_SUFFIX = 'internal';

/** How many Machines `top<N>.nearest.of.<app>.internal` may ask for. */
export const MAX_NEAREST = 64;

const TOP = /^top([1-9][0-9]{0,2})$/;

/** Classifies `name` (already lowercased, no trailing dot). */
export function parseInternalName(name: string): InternalName {
  if (name !== INTERNAL_SUFFIX && !name.endsWith('.internal')) return { kind: 'external' };
  const labels = name.split('.');
  labels.pop();
  const [a, b, c, d] = labels;
  switch (labels.length) {
    case 1:
      if (a === '_apps') return { kind: 'apps' };
      if (a === '_peer') return { kind: 'peers' };
      if (a === '_instances') return { kind: 'instances' };
      return a === undefined || a.startsWith('_') ? { kind: 'unknown' } : { kind: 'app', app: a };
    case 2:
      if (a === undefined || b === undefined) break;
      if (a === 'global') return { kind: 'app', app: b };
      if (a === 'vms') return { kind: 'vms', app: b };
      if (a === 'regions') return { kind: 'regions', app: b };
      return { kind: 'region', app: b, region: a };
    case 3:
      if (a === undefined || c === undefined) break;
      if (b === 'vm') return { kind: 'vm', app: c, machineId: a };
      if (b === 'process') return { kind: 'process', app: c, group: a };
      break;
    case 4: {
      const top = a === undefined ? null : TOP.exec(a);
      const count = Number(top?.[1]);
      if (top !== null && b === 'nearest' && c === 'of' && d !== undefined && count <= MAX_NEAREST) return { kind: 'nearest', app: d, count };
      break;
    }
  }
  return { kind: 'unknown' };
}
