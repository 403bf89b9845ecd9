/**
 * Releases: every deploy of an app is one numbered release (1, 2, 3… per app) with the
 * image, the normalised config, the strategy, who started it, when, and how it ended.
 * Its progress events are kept with it, so a client that reconnects (or a later
 * `aloft releases`) can read the whole story.
 */

export const RELEASE_STATUSES = ['pending', 'running', 'succeeded', 'failed', 'rolled_back'] as const;
export type ReleaseStatus = (typeof RELEASE_STATUSES)[number];

/** The statuses of a release that has not ended; an app has at most one such release. */
export const LIVE_RELEASE_STATUSES: readonly ReleaseStatus[] = ['pending', 'running'];

export const DEPLOY_STRATEGIES = ['rolling', 'immediate', 'canary', 'bluegreen'] as const;
export type DeployStrategy = (typeof DEPLOY_STRATEGIES)[number];

export interface Release {
  /** Globally unique ("rel_…"); `version` is the number users see. */
  id: string;
  appName: string;
  /** 1, 2, 3… per app, given by the store. */
  version: number;
  status: ReleaseStatus;
  strategy: DeployStrategy;
  /** The image as asked for, and the digest it resolved to. */
  image: { ref: string; digest: string };
  /** The normalised app config (AppConfig) as JSON. */
  config: unknown;
  /** Who started it: a token's name and id, or "operator". */
  createdBy: string;
  createdAt: number;
  updatedAt: number;
  finishedAt?: number;
  /** Why it failed (or was rolled back). */
  reason?: string;
  /** For a rollback: the version whose image and config it redeploys. */
  rollbackOf?: number;
}

/** A release to insert: the store numbers it. */
export type NewRelease = Omit<Release, 'version' | 'updatedAt' | 'finishedAt'>;

/** One progress event of a release, numbered from 1 in order. */
export interface ReleaseEvent {
  seq: number;
  /** ms since the epoch */
  time: number;
  /** The event as the deploy engine wrote it (see deploy/events.ts). */
  data: Record<string, unknown>;
}

export interface ReleasePatch {
  status?: ReleaseStatus;
  reason?: string;
  finishedAt?: number;
}

/** The part of the Store that keeps releases and their events. */
export interface ReleaseStore {
  /**
   * Inserts a release with the app's next version number. Atomic: throws
   * DEPLOY_CONFLICT (naming the other release and who started it) when the app already
   * has a pending or running release, APP_NOT_FOUND when there is no app.
   */
  createRelease(release: NewRelease): Promise<Release>;
  getRelease(appName: string, version: number): Promise<Release | undefined>;
  /** Newest first; `statuses` keeps only those. */
  listReleases(appName: string, filter?: { statuses?: readonly ReleaseStatus[]; limit?: number }): Promise<Release[]>;
  /** Sets status, reason, finishedAt. Throws RELEASE_NOT_FOUND. */
  updateRelease(id: string, patch: ReleasePatch, now: number): Promise<Release>;
  /** Appends one event; returns it with its number. Throws RELEASE_NOT_FOUND. */
  appendReleaseEvent(id: string, data: Record<string, unknown>, now: number): Promise<ReleaseEvent>;
  /** The release's events after `afterSeq` (default 0), oldest first. */
  listReleaseEvents(id: string, afterSeq?: number): Promise<ReleaseEvent[]>;
}
