/**
 * What the rest of aloft knows of an image: its digest, its config (entrypoint, cmd,
 * env, user, workdir, exposed ports) and its layers, verified.
 */
export interface ImageConfig {
  entrypoint: string[];
  cmd: string[];
  /** "KEY=value" entries, as in the OCI image config. */
  env: string[];
  workingDir: string;
  /** "", "name", "uid", "uid:gid", "name:group". */
  user: string;
  exposedPorts: number[];
}

export interface ResolvedImage {
  /** The reference the user gave. */
  ref: string;
  /** Digest of the image manifest ("sha256:…"). */
  digest: string;
  /** For the Machine's `image_ref` (registry, repository, tag). */
  registry: string;
  repository: string;
  tag: string;
  config: ImageConfig;
  /** Layer digests (compressed, as in the manifest), bottom first. */
  layers: string[];
}
