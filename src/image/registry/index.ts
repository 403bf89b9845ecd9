// The public face of src/image/registry: an OCI Distribution Spec registry on disk.
export { createRegistry, type Registry, type RegistryOptions, type RunningRegistry } from './registry.ts';
export type { Authorize, FilterCatalog, RegistryAction } from './context.ts';
export type { GcOptions } from './gc.ts';
