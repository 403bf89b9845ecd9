// The public face of src/image: reading, pulling, storing and unpacking images, per-Machine
// root filesystems, and building images without Docker.
export { ImageStore, type ImageStoreOptions, type StoredImage } from './image-store.ts';
export { prepareRootfs, releaseRootfs } from './rootfs.ts';
export { buildExt4Image, measureTree, type Ext4ImageOptions, type Ext4ImageResult } from './ext4-image.ts';
export { prepareExt4Disk, type Ext4DiskOptions } from './ext4-disk.ts';
export { writeOciLayout, type BuiltImage, type ImageFile, type OciLayoutSpec } from './build-image.ts';
export { writeDockerArchive, type DockerArchiveFormat } from './write-docker-archive.ts';
export { parseImageUser, resolveImageUser, readInRoot, type ImageUser, type ResolvedUser } from './image-user.ts';
export { parseLocalRef, type LocalImageRef } from './image-ref.ts';
export { parseRegistryRef, formatRegistryRef, type RegistryImageRef } from './registry-ref.ts';
export type { RegistryCredentials } from './pull.ts';
export type { FetchPolicy } from './registry-fetch.ts';
export { hostPlatform, type Platform } from './platform.ts';
export { unpackLayer, type UnpackLayerOptions } from './unpack-layer.ts';
export type { ImageConfig, ResolvedImage } from './types.ts';
