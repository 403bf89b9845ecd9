/**
 * `aloft launch`'s pieces: what a directory holds (a Dockerfile, a Node app, a static
 * site), the aloft.toml written for it, and the static-site Dockerfile.
 */
export { detectProject, type DetectedProject, type ProjectKind } from './detect.ts';
export { launchToml, type LaunchTarget } from './app-toml.ts';
export { launchAppName } from './app-name.ts';
export { exposedPort } from './exposed-port.ts';
export { nodeAppPort, DEFAULT_INTERNAL_PORT, type NodePort } from './node-port.ts';
export { findStaticRoot, staticSiteDockerfile, STATIC_PORT, STATIC_ROOTS } from './static-site.ts';
export { writeFilesAtomically } from './write-files.ts';
