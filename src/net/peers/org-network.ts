import type { Store } from '../../store/store.ts';

/**
 * The org's 6PN network number: one per org, allocated on first use and never reused.
 * The same meta key and counter as app creation (api/routes/apps.ts), so an org's peers
 * and apps share one network whichever comes first.
 */
export async function orgNetwork(store: Pick<Store, 'getMeta' | 'setMeta' | 'nextSequence'>, org: string): Promise<number> {
  const key = `org:${org}:network`;
  const existing = await store.getMeta(key);
  if (existing !== undefined) return Number(existing);
  const n = await store.nextSequence('org-network');
  await store.setMeta(key, String(n));
  return n;
}
