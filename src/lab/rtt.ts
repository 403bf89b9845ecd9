import { findRegion } from '../model/regions.ts';

/**
 * Round-trip times between regions in ms, roughly as measured on the public internet
 * (one side of each pair; `labRtt` reads either way round).
 */
export const LAB_RTT_MS: Readonly<Record<string, Readonly<Record<string, number>>>> = {
  ams: { fra: 8, lhr: 8, cdg: 10, iad: 80, ord: 100, sjc: 145, lax: 140, sin: 160, nrt: 230, syd: 280, gru: 190 },
  fra: { lhr: 14, cdg: 10, iad: 88, ord: 105, sjc: 150, lax: 150, sin: 155, nrt: 225, syd: 280, gru: 200 },
  lhr: { cdg: 8, iad: 75, ord: 95, sjc: 140, lax: 135, sin: 170, nrt: 220, syd: 270, gru: 185 },
  cdg: { iad: 80, ord: 100, sjc: 145, lax: 140, sin: 165, nrt: 225, syd: 280, gru: 190 },
  iad: { ord: 18, sjc: 65, lax: 60, sin: 220, nrt: 150, syd: 200, gru: 120 },
  ord: { sjc: 50, lax: 48, sin: 210, nrt: 140, syd: 190, gru: 135 },
  sjc: { lax: 10, sin: 170, nrt: 105, syd: 150, gru: 175 },
  lax: { sin: 170, nrt: 110, syd: 145, gru: 165 },
  sin: { nrt: 70, syd: 95, gru: 330 },
  nrt: { syd: 110, gru: 260 },
  syd: { gru: 310 },
};

/** Unlisted pairs: near when in the same area group, else a long-haul figure. */
const SAME_GROUP_MS = 25;
const OTHER_GROUP_MS = 150;

/** The lab's RTT between two regions (0 for the same one). */
export function labRtt(a: string, b: string, table: Readonly<Record<string, Readonly<Record<string, number>>>> = LAB_RTT_MS): number {
  if (a === b) return 0;
  const listed = table[a]?.[b] ?? table[b]?.[a];
  if (listed !== undefined) return listed;
  return findRegion(a)?.group === findRegion(b)?.group ? SAME_GROUP_MS : OTHER_GROUP_MS;
}
