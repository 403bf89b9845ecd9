import type { ImageConfig } from '../image/types.ts';

/** What the agent needs from the image part: verified configs and unpacked roots. */
export interface AgentImages {
  /** The image's config, by manifest digest. */
  imageConfig(digest: string): Promise<ImageConfig>;
  /** The shared, read-only unpacked root of the image (unpacked once per host). */
  unpack(digest: string): Promise<string>;
  /** A machine's own writable root over the shared one; returns its absolute path. */
  prepareRootfs(imageRoot: string, machineDir: string): Promise<string>;
  /** Undoes prepareRootfs. Idempotent. */
  releaseRootfs(machineDir: string): Promise<void>;
  /**
   * The image's root as a read-only ext4 image, built once per digest (for microVM
   * Machines, which boot a copy of it). Without it, the microvm driver builds a disk
   * from the Machine's root at every start.
   */
  ext4Image?(digest: string): Promise<string>;
}
