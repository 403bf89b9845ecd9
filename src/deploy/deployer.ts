import type { HostControl } from '../agent/host-control.ts';
import type { ImageResolver, MachineOps } from '../api/machine-ops.ts';
import type { AppConfig } from '../config/index.ts';
import { systemClock, type Clock } from '../lib/clock.ts';
import { AloftError, isAloftError, toAloftError } from '../lib/errors.ts';
import { shortId } from '../lib/ids.ts';
import { silentLogger, type Logger } from '../lib/log.ts';
import { LIVE_RELEASE_STATUSES, type DeployStrategy, type Release, type ReleaseEvent } from '../store/release-store.ts';
import type { Store } from '../store/store.ts';
import { ReleaseEventBus } from './event-bus.ts';
import type { DeployEvent, Emit } from './events.ts';
import type { HealthGate } from './health-gate.ts';
import { DeployLeases } from './leases.ts';
import type { DeployPlan } from './plan.ts';
import { preparePlan, runRelease } from './run-release.ts';

export interface DeployerDeps {
  store: Store;
  ops: MachineOps;
  images: ImageResolver;
  gate: HealthGate;
  hostControl?: HostControl | undefined;
  clock?: Clock | undefined;
  log?: Logger | undefined;
}

export interface DeployRequest {
  appName: string;
  config: AppConfig;
  /** The image reference Machines get (a registry reference or an OCI layout path). */
  image: string;
  /** Overrides `[deploy] strategy`. */
  strategy?: DeployStrategy | undefined;
  /** Who asks: a token's name and id, or "operator". */
  createdBy: string;
}

interface Active {
  done: Promise<Release>;
  abort: AbortController;
}

/**
 * Runs deploys inside the API process, so a client that goes away (a closed laptop, a
 * CI job cancelled) does not leave a half-done rollout: `deploy` checks what it can,
 * records the release and answers at once; the rollout runs here, and its events are
 * stored with the release and streamed to whoever follows it. One deploy per app at a
 * time (the store refuses a second live release; leases refuse anyone else's changes).
 */
export class Deployer {
  readonly #d: DeployerDeps;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #bus = new ReleaseEventBus();
  readonly #active = new Map<string, Active>();

  constructor(deps: DeployerDeps) {
    this.#d = deps;
    this.#clock = deps.clock ?? systemClock;
    this.#log = deps.log ?? silentLogger;
  }

  /**
   * Starts a deploy: resolves the image and plans (so a bad image, config or volume is
   * an error now, with nothing recorded), records release N as pending, and runs it in
   * the background. Answers the release; `settled(release.id)` resolves when it ends.
   */
  async deploy(request: DeployRequest): Promise<Release> {
    return this.#start(request, undefined);
  }

  /**
   * Redeploys release `version` (default: the last succeeded release before the
   * current one) as a new release with its image, config and strategy. Throws
   * RELEASE_NOT_FOUND when there is no such release or nothing to roll back to.
   */
  async rollback(appName: string, version: number | undefined, createdBy: string): Promise<Release> {
    await this.#d.ops.requireApp(appName);
    const target = version === undefined ? await this.#previousGood(appName) : await this.#d.store.getRelease(appName, version);
    if (!target) {
      throw new AloftError('RELEASE_NOT_FOUND', version === undefined
        ? `Cannot roll back app ${appName} as it must have a succeeded release before the current one: got none`
        : `Cannot roll back app ${appName} as release v${version} must exist: got no release by that number`, { details: { appName, version } });
    }
    return this.#start({ appName, config: target.config as AppConfig, image: target.image.ref, strategy: target.strategy, createdBy }, target.version);
  }

  /** Resolves once the release's deploy (if one runs here) has ended and recorded how. */
  async settled(releaseId: string): Promise<void> {
    await this.#active.get(releaseId)?.done;
  }

  /** True while a deploy of the release runs in this process. */
  isActive(releaseId: string): boolean {
    return this.#active.has(releaseId);
  }

  /**
   * The release's events after `afterSeq`: those stored, then (while it runs) each new
   * one, ending with its `done` event or when `signal` aborts.
   */
  async *follow(release: Release, afterSeq = 0, signal?: AbortSignal): AsyncGenerator<ReleaseEvent> {
    const queue: ReleaseEvent[] = [];
    let wake: (() => void) | undefined;
    const unsubscribe = this.#bus.subscribe(release.id, (e) => {
      queue.push(e);
      wake?.();
    });
    const onAbort = (): void => wake?.();
    signal?.addEventListener('abort', onAbort, { once: true });
    const ends = (e: ReleaseEvent): boolean => e.data['type'] === 'done' && e.data['release'] === release.version;
    try {
      let last = afterSeq;
      // Subscribed first, then read: an event written in between is in the queue, and skipped by seq if also read.
      for (const e of await this.#d.store.listReleaseEvents(release.id, afterSeq)) {
        last = e.seq;
        yield e;
        if (ends(e)) return;
      }
      while (!signal?.aborted) {
        const next = queue.shift();
        if (next) {
          if (next.seq <= last) continue;
          last = next.seq;
          yield next;
          if (ends(next)) return;
          continue;
        }
        if (!this.#active.has(release.id)) return; // ended (or was never run here): nothing more will come
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
      }
    } finally {
      unsubscribe();
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /** Aborts every running deploy (the API is stopping) and waits for them to record how they ended. */
  async close(): Promise<void> {
    for (const active of this.#active.values()) active.abort.abort();
    await Promise.allSettled([...this.#active.values()].map((a) => a.done));
  }

  async #start(request: DeployRequest, rollbackOf: number | undefined, mirror?: Release): Promise<Release> {
    const { store } = this.#d;
    await this.#d.ops.requireApp(request.appName);
    const strategy = request.strategy ?? request.config.deploy?.strategy ?? 'rolling';
    const image = await this.#d.images.resolve(request.image);
    const plan = await preparePlan(store, request.appName, request.config, request.image, strategy);
    await this.#failInterrupted(request.appName);
    await DeployLeases.refuseIfLeased(store, this.#clock, [...plan.groups.flatMap((g) => g.update.map((u) => u.machine)), ...plan.destroy]);
    const release = await store.createRelease({
      id: `rel_${shortId()}`,
      appName: request.appName,
      status: 'pending',
      strategy,
      image: { ref: request.image, digest: image.digest },
      config: request.config,
      createdBy: request.createdBy,
      createdAt: this.#clock.now(),
      ...(rollbackOf === undefined ? {} : { rollbackOf }),
    });
    const abort = new AbortController();
    const done = this.#run(release, request.config, plan, abort.signal, mirror).finally(() => this.#active.delete(release.id));
    this.#active.set(release.id, { done, abort });
    return release;
  }

  /**
   * Runs the release and records how it ended, always with a final `done` event. When a
   * rolling (or canary) deploy fails its checks and the config sets auto_rollback, the
   * last succeeded release is redeployed; its events are mirrored into this stream.
   */
  async #run(release: Release, config: AppConfig, plan: DeployPlan, signal: AbortSignal, mirror: Release | undefined): Promise<Release> {
    const { store } = this.#d;
    const events = this.#emitter(release, mirror);
    let final: Release;
    try {
      await store.updateRelease(release.id, { status: 'running' }, this.#clock.now());
      await runRelease({ ...this.#d, clock: this.#clock }, release, config, plan, events.emit, signal);
      final = await store.updateRelease(release.id, { status: 'succeeded', finishedAt: this.#clock.now() }, this.#clock.now());
      events.emit({ type: 'done', message: `release v${release.version} succeeded`, status: 'succeeded' });
    } catch (err) {
      const error = signal.aborted && !isAloftError(err) ? new AloftError('DEPLOY_FAILED', `Cannot deploy app ${release.appName} as the API must keep running through the deploy: got it stopping`) : toAloftError(err);
      if (error.kind === 'system') this.#log.error({ err, release: release.id }, 'deploy failed');
      final = await store.updateRelease(release.id, { status: 'failed', reason: error.message, finishedAt: this.#clock.now() }, this.#clock.now());
      const rolledBack = mirror === undefined && !signal.aborted && this.#wantsRollback(release, config, error) ? await this.#autoRollback(release, events.emit) : undefined;
      if (rolledBack) {
        final = await store.updateRelease(release.id, { status: 'rolled_back', reason: `${error.message}\n(rolled back to v${rolledBack.rollbackOf} by release v${rolledBack.version})` }, this.#clock.now());
      }
      events.emit({ type: 'done', message: `release v${release.version} ${final.status === 'rolled_back' ? 'failed and was rolled back' : 'failed'}`, status: final.status, code: error.code, reason: error.message, ...(error.details ? { details: error.details } : {}) });
    }
    await events.flushed();
    return final;
  }

  #wantsRollback(release: Release, config: AppConfig, error: AloftError): boolean {
    const wanted = config.deploy?.auto_rollback ?? config.experimental?.auto_rollback ?? false;
    return wanted && error.code === 'DEPLOY_FAILED' && (release.strategy === 'rolling' || release.strategy === 'canary');
  }

  /** Redeploys the last succeeded release; answers that rollback release once it succeeded, else undefined. */
  async #autoRollback(failed: Release, emit: Emit): Promise<Release | undefined> {
    const target = await this.#previousGood(failed.appName);
    if (!target) {
      emit({ type: 'rollback', message: 'auto_rollback: no earlier succeeded release to roll back to' });
      return undefined;
    }
    emit({ type: 'rollback', message: `auto_rollback: redeploying release v${target.version} (${target.image.ref})`, target: target.version });
    try {
      const rollback = await this.#start({ appName: failed.appName, config: target.config as AppConfig, image: target.image.ref, strategy: 'rolling', createdBy: `auto_rollback of v${failed.version}` }, target.version, failed);
      await this.settled(rollback.id);
      const ended = await this.#d.store.getRelease(failed.appName, rollback.version);
      return ended?.status === 'succeeded' ? ended : undefined;
    } catch (err) {
      emit({ type: 'rollback', message: `auto_rollback failed: ${(err as Error).message}` });
      return undefined;
    }
  }

  async #previousGood(appName: string): Promise<Release | undefined> {
    const [latest] = await this.#d.store.listReleases(appName, { limit: 1 });
    const good = await this.#d.store.listReleases(appName, { statuses: ['succeeded'] });
    // The current release is the latest succeeded one when the latest deploy worked: roll back past it.
    return latest?.status === 'succeeded' ? good[1] : good[0];
  }

  /** A live release that no deploy here runs was cut off (the API stopped mid-deploy): it failed. */
  async #failInterrupted(appName: string): Promise<void> {
    for (const stale of await this.#d.store.listReleases(appName, { statuses: LIVE_RELEASE_STATUSES })) {
      if (this.#active.has(stale.id)) continue;
      await this.#d.store.updateRelease(stale.id, { status: 'failed', reason: 'interrupted: the API process running this deploy stopped before it ended', finishedAt: this.#clock.now() }, this.#clock.now());
    }
  }

  /**
   * Writes events in order: each is stored with the release (and, for a rollback run on
   * behalf of a failed release, with that one too), then sent to followers.
   */
  #emitter(release: Release, mirror: Release | undefined): { emit: Emit; flushed: () => Promise<void> } {
    let chain: Promise<void> = Promise.resolve();
    const targets = mirror ? [release, mirror] : [release];
    const emit = (event: DeployEvent): void => {
      const data: Record<string, unknown> = { release: release.version, ...event };
      for (const target of targets) {
        chain = chain
          .then(() => this.#d.store.appendReleaseEvent(target.id, data, this.#clock.now()))
          .then((stored) => this.#bus.publish(target.id, stored))
          .catch((err: unknown) => this.#log.warn({ err, release: target.id }, 'could not record a deploy event'));
      }
    };
    return { emit, flushed: () => chain };
  }
}
