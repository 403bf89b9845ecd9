// The public face of src/image: reading, pulling, storing and unpacking images, per-Machine
// root filesystems, and building images without Docker.
export { ImageStore, type ImageStoreOptions, type StoredImage } from './image-store.ts';
export { prepareRootfs, releaseRootfs } from './rootfs.ts';
export { writeOciLayout, type BuiltImage, type ImageFile, type OciLayoutSpec } from './build-image.ts';
export { writeDockerArchive, type DockerArchiveFormat } from './write-docker-archive.ts';
export { parseImageUser, resolveImageUser, readInRoot, type ImageUser, type ResolvedUser } from './image-user.ts';
export { parseLocalRef, type LocalImageRef } from './image-ref.ts';
export { parseRegistryRef, formatRegistryRef, type RegistryImageRef } from './registry-ref.ts';
export type { RegistryCredentials } from './pull.ts';
export { hostPlatform, type Platform } from './platform.ts';
export { unpackLayer, type UnpackLayerOptions } from './unpack-layer.ts';
export type { ImageConfig, ResolvedImage } from './types.ts';
