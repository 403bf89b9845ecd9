import { AloftError } from '../../lib/errors.ts';
import { LIVE_RELEASE_STATUSES, type NewRelease, type Release, type ReleaseEvent, type ReleasePatch, type ReleaseStatus, type ReleaseStore } from '../release-store.ts';
import { appNotFound } from '../store-errors.ts';
import { getJson, listJson, type EtcdContext } from './context.ts';
import { padded, type EtcdKeys } from './keys.ts';
import type { Tx } from './transaction.ts';

/** Where a release lives, from its id (`idx/release-id/<id>`). */
interface ReleaseRef {
  appName: string;
  version: number;
}

/**
 * The ReleaseStore half of EtcdStore: `releases/<app>/<version>` (so an app's releases
 * list in version order), the `idx/release-id/<id>` index, and events at
 * `release-events/<app>/<id>/<seq>`. createRelease reads the app's releases and commits
 * only if none was added or changed meanwhile: that is what makes the next version and
 * "one live release per app" race-free.
 */
export class EtcdReleases implements ReleaseStore {
  readonly #c: EtcdContext;
  readonly #k: EtcdKeys;

  constructor(context: EtcdContext) {
    this.#c = context;
    this.#k = context.keys;
  }

  async createRelease(release: NewRelease): Promise<Release> {
    return this.#c.write('create release', async (tx) => {
      if (!(await tx.get(this.#k.app(release.appName)))) throw appNotFound('deploy', release.appName);
      const existing = await listJson<Release>(tx, this.#k.dir('releases', release.appName));
      const live = existing.filter((r) => LIVE_RELEASE_STATUSES.includes(r.status)).at(-1);
      if (live) {
        throw new AloftError(
          'DEPLOY_CONFLICT',
          `Cannot deploy app ${release.appName} as no other deploy may be running: got release v${live.version} by ${live.createdBy}, ${live.status} since ${new Date(live.createdAt).toISOString()}`,
          { details: { appName: release.appName, version: live.version, holder: live.createdBy } },
        );
      }
      const version = (existing.at(-1)?.version ?? 0) + 1;
      const stored: Release = {
        id: release.id,
        appName: release.appName,
        version,
        status: release.status,
        strategy: release.strategy,
        image: { ...release.image },
        config: release.config ?? null,
        createdBy: release.createdBy,
        createdAt: release.createdAt,
        updatedAt: release.createdAt,
        ...(release.reason === undefined ? {} : { reason: release.reason }),
        ...(release.rollbackOf === undefined ? {} : { rollbackOf: release.rollbackOf }),
      };
      tx.putJson(this.#k.key('releases', release.appName, padded(version)), stored);
      const ref: ReleaseRef = { appName: release.appName, version };
      tx.putJson(this.#k.key('idx', 'release-id', release.id), ref);
      return stored;
    });
  }

  async getRelease(appName: string, version: number): Promise<Release | undefined> {
    return this.#c.read('get release', (tx) => getJson<Release>(tx, this.#k.key('releases', appName, padded(version))));
  }

  async listReleases(appName: string, filter: { statuses?: readonly ReleaseStatus[]; limit?: number } = {}): Promise<Release[]> {
    const all = await this.#c.read('list releases', (tx) => listJson<Release>(tx, this.#k.dir('releases', appName)));
    const statuses = filter.statuses ?? [];
    const kept = all.filter((r) => statuses.length === 0 || statuses.includes(r.status)).reverse();
    return filter.limit === undefined || filter.limit < 0 ? kept : kept.slice(0, filter.limit);
  }

  async updateRelease(id: string, patch: ReleasePatch, now: number): Promise<Release> {
    return this.#c.write('update release', async (tx) => {
      const found = await this.#find(tx, id);
      if (!found) throw releaseNotFound('update a release', id);
      const next: Release = {
        ...found.release,
        status: patch.status ?? found.release.status,
        updatedAt: now,
        ...(patch.reason === undefined ? {} : { reason: patch.reason }),
        ...(patch.finishedAt === undefined ? {} : { finishedAt: patch.finishedAt }),
      };
      tx.putJson(found.key, next);
      return next;
    });
  }

  async appendReleaseEvent(id: string, data: Record<string, unknown>, now: number): Promise<ReleaseEvent> {
    return this.#c.write('record a deploy event', async (tx) => {
      const found = await this.#find(tx, id);
      if (!found) throw releaseNotFound('record a deploy event', id);
      const dir = this.#k.dir('release-events', found.release.appName, id);
      // The last event's key gives the next number; the commit fails if another append lands first.
      const last = (await tx.list(dir)).at(-1);
      const seq = last === undefined ? 1 : Number(last.key.slice(last.key.lastIndexOf('/') + 1)) + 1;
      const event: ReleaseEvent = { seq, time: now, data };
      tx.putJson(`${dir}${padded(seq)}`, event);
      return event;
    });
  }

  async listReleaseEvents(id: string, afterSeq = 0): Promise<ReleaseEvent[]> {
    return this.#c.read('list deploy events', async (tx) => {
      const ref = await getJson<ReleaseRef>(tx, this.#k.key('idx', 'release-id', id));
      if (!ref) return [];
      const events = await listJson<ReleaseEvent>(tx, this.#k.dir('release-events', ref.appName, id));
      return events.filter((e) => e.seq > afterSeq);
    });
  }

  async #find(tx: Tx, id: string): Promise<{ key: string; release: Release } | undefined> {
    const ref = await getJson<ReleaseRef>(tx, this.#k.key('idx', 'release-id', id));
    if (!ref) return undefined;
    const key = this.#k.key('releases', ref.appName, padded(ref.version));
    const release = await getJson<Release>(tx, key);
    return release && { key, release };
  }
}

export function releaseNotFound(action: string, what: string): AloftError {
  return new AloftError('RELEASE_NOT_FOUND', `Cannot ${action} as release ${what} must exist: got no release by that id`, { details: { release: what } });
}
