import { randomBytes } from 'node:crypto';
import { AloftError } from '../../lib/errors.ts';
import type { HostVolumes } from './host-volumes.ts';

/**
 * How a host's agent reads a volume that lives on another host, for a fork onto this
 * one: `withCopy` hands `use` the path of a consistent copy (taken frozen, as a
 * snapshot is) and removes the copy afterwards.
 */
export interface VolumeTransfer {
  withCopy<T>(fromHostId: string, volumeId: string, use: (path: string) => Promise<T>): Promise<T>;
}

/**
 * Transfer between hosts whose disks this process can reach: the agents of one process
 * (several simulated hosts in tests; the embedded platform has one). The source host
 * snapshots the volume into a staging file, the target copies that file. Hosts on other
 * machines need an agent-to-agent stream instead (cluster mode); until then a fork from
 * such a host fails, recorded on the new volume, naming the host.
 */
export class SharedDiskTransfer implements VolumeTransfer {
  readonly #hosts: ReadonlyMap<string, HostVolumes>;

  constructor(hosts: ReadonlyMap<string, HostVolumes>) {
    this.#hosts = hosts;
  }

  async withCopy<T>(fromHostId: string, volumeId: string, use: (path: string) => Promise<T>): Promise<T> {
    const source = this.#hosts.get(fromHostId);
    if (!source) {
      throw new AloftError('HOST_UNAVAILABLE', `Cannot copy volume ${volumeId} as its host ${fromHostId} must be reachable from this one: got no way to it (copies between machines need cluster mode)`);
    }
    const staging = `transfer-${volumeId}-${randomBytes(4).toString('hex')}`;
    await source.snapshot(volumeId, staging);
    try {
      return await use(source.snapshotPath(staging));
    } finally {
      await source.removeSnapshot(staging);
    }
  }
}
