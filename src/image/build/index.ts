// The public face of src/image/build: images from an app's source (a Dockerfile through
// buildah, or a Node app), and the base images builds start from.
export { buildImage, type BuildImageOptions, type BuildImageResult } from './build-dir.ts';
export { buildDockerfile, removeBuildahStorage, type DockerfileBuildOptions, type DockerfileBuildResult } from './buildah.ts';
export { buildahStorageDir } from './buildah-env.ts';
export { seedImages, SEED_IMAGES, type SeedImageName, type SeedOptions, type SeededImage } from './seed.ts';
export { writeBusyboxImage } from './seed-busybox.ts';
export { writeDebianImage, type DebianSeedOptions } from './seed-debian.ts';
export { pushLayoutImage, type PushedImage } from './push-layout.ts';
export { parseImageName, registryHost, type RegistryTarget } from './registry-target.ts';
export { buildNodeApp, type NodeAppBuildOptions, type NodeAppImage } from './node-app.ts';
