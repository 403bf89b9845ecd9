import { readdir } from 'node:fs/promises';
import { AloftError, isAloftError } from '../../lib/errors.ts';
import { silentLogger, type Logger } from '../../lib/log.ts';
import type { Volume } from '../../model/index.ts';
import type { HostInfo } from '../../scheduler/index.ts';
import type { Store } from '../../store/store.ts';
import { SerialQueue } from '../serial-queue.ts';
import type { HostVolumes } from './host-volumes.ts';
import type { VolumeTransfer } from './volume-transfer.ts';

/** Machine states in which a Machine may hold its volume mounted. */
const HOLDING = new Set(['starting', 'started', 'stopping', 'restarting', 'destroying']);

export interface VolumeReconcilerOptions {
  host: HostInfo;
  store: Store;
  volumes: HostVolumes;
  /** How a fork reads a source volume on another host; without it such a fork fails, saying so. */
  transfer?: VolumeTransfer;
  log?: Logger;
}

/**
 * The agent's volume half: follows the store's volume changes for its host and does
 * the disk work each intent asks for (create, extend, destroy, snapshot), then records
 * the resting state. Like the Machine reconcile, each volume is worked on by one task
 * at a time, and every step is idempotent, so a restarted agent simply does it again.
 */
export class VolumeReconciler {
  readonly #o: VolumeReconcilerOptions;
  readonly #log: Logger;
  readonly #queue: SerialQueue;
  #unwatch: (() => void) | undefined;
  #stopping = false;

  constructor(options: VolumeReconcilerOptions) {
    this.#o = options;
    this.#log = (options.log ?? silentLogger).child({ part: 'volumes', host: options.host.id });
    // A failure is recorded on the volume or snapshot itself; the next change retries.
    this.#queue = new SerialQueue(
      (id) => this.#reconcile(id),
      (id, err) => this.#log.error({ err, volume: id }, 'volume reconcile failed'),
    );
  }

  async start(): Promise<void> {
    const { store, host } = this.#o;
    this.#stopping = false;
    const revision = await store.revision();
    this.#unwatch = store.watch(
      (change) => {
        if (change.kind !== 'volume' || change.op !== 'put' || this.#stopping) return;
        if (change.volume.hostId === host.id) void this.#queue.schedule(change.key);
      },
      { fromRevision: revision },
    );
    const volumes = await store.listVolumes({ hostId: host.id });
    await this.#unmountStale(volumes);
    await Promise.all(volumes.map((v) => this.#queue.schedule(v.id)));
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    this.#unwatch?.();
    await this.#queue.idle();
  }

  /** Runs (or waits for) the volume's reconcile, then returns it as it is now. */
  async settle(id: string): Promise<Volume | undefined> {
    await this.#queue.schedule(id);
    return this.#o.store.getVolume(id);
  }

  idle(): Promise<void> {
    return this.#queue.idle();
  }

  async #reconcile(id: string): Promise<void> {
    if (this.#stopping) return;
    const { store, volumes, host } = this.#o;
    const volume = await store.getVolume(id);
    if (!volume || volume.hostId !== host.id) return;
    switch (volume.state) {
      case 'creating':
        try {
          await this.#create(volume);
        } catch (err) {
          this.#log.error({ err, volume: id }, 'volume create failed');
          await store.updateVolume(id, { patch: { state: 'failed', error: (err as Error).message }, expectState: ['creating'] });
          return;
        }
        await this.#record(id, 'creating', 'created');
        break;
      case 'extending':
        await volumes.extend(id, volume.sizeGb);
        await this.#record(id, 'extending', 'created');
        break;
      case 'destroying':
        await volumes.unmount(id);
        for (const snapshot of await store.listSnapshots(id)) await volumes.removeSnapshot(snapshot.id);
        await volumes.remove(id);
        await this.#record(id, 'destroying', 'destroyed');
        return;
      default:
        break;
    }
    await this.#takeSnapshots(id);
  }

  async #create(volume: Volume): Promise<void> {
    const { volumes } = this.#o;
    if (volume.source === null) return volumes.create(volume.id, volume.sizeGb);
    if (volume.source.kind === 'snapshot') {
      return volumes.createFrom(volume.id, volumes.snapshotPath(volume.source.id), volume.sizeGb);
    }
    const source = await this.#o.store.getVolume(volume.source.id);
    if (source && source.hostId !== this.#o.host.id) {
      const transfer = this.#o.transfer;
      if (!transfer) throw new AloftError('HOST_UNAVAILABLE', `Cannot fork volume ${source.id} onto host ${this.#o.host.id} as its host ${source.hostId} must be reachable from this one: got no transfer configured`);
      const sizeGb = volume.sizeGb;
      return transfer.withCopy(source.hostId, source.id, (path) => volumes.createFrom(volume.id, path, sizeGb));
    }
    // A fork goes through a snapshot, so a source in use is copied frozen, consistently.
    const staging = `fork-${volume.id}`;
    await volumes.snapshot(volume.source.id, staging);
    try {
      await volumes.createFrom(volume.id, volumes.snapshotPath(staging), volume.sizeGb);
    } finally {
      await volumes.removeSnapshot(staging);
    }
  }

  async #takeSnapshots(id: string): Promise<void> {
    const { store, volumes } = this.#o;
    const volume = await store.getVolume(id);
    if (volume?.state !== 'created') return;
    for (const snapshot of await store.listSnapshots(id)) {
      if (snapshot.status !== 'creating') continue;
      try {
        const { size, digest } = await volumes.snapshot(id, snapshot.id);
        await store.updateSnapshot(snapshot.id, { status: 'created', size, digest });
      } catch (err) {
        this.#log.error({ err, volume: id, snapshot: snapshot.id }, 'snapshot failed');
        await store.updateSnapshot(snapshot.id, { status: 'failed', error: (err as Error).message });
      }
    }
  }

  /** Records the resting state; a user's newer intent (e.g. destroy during extend) wins. */
  async #record(id: string, from: Volume['state'], to: Volume['state']): Promise<void> {
    try {
      await this.#o.store.updateVolume(id, { patch: { state: to, error: null }, expectState: [from] });
    } catch (err) {
      if (!isAloftError(err, 'VOLUME_ILLEGAL_STATE')) throw err;
    }
  }

  /**
   * Mounts left by an earlier agent whose Machine no longer runs: unmounted, so a
   * destroy or the next start finds the volume free.
   */
  async #unmountStale(volumes: readonly Volume[]): Promise<void> {
    const mounted = await readdir(this.#o.volumes.mountsDir).catch(() => [] as string[]);
    for (const id of mounted) {
      const volume = volumes.find((v) => v.id === id);
      const machine = volume?.attachedMachineId ? await this.#o.store.getMachine(volume.attachedMachineId) : undefined;
      if (machine && HOLDING.has(machine.state)) continue;
      await this.#o.volumes.unmount(id).catch((err: unknown) => this.#log.warn({ err, volume: id }, 'unmounting a stale volume mount failed'));
    }
  }
}
