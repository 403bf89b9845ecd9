/** The Machines API: Fly's shapes under /v1. */
export { createApiApp, listenApi, type ApiDeps } from './server.ts';
export { MachineOps, type ImageResolver } from './machine-ops.ts';
export { waitForState } from './wait.ts';
export { registryAccess, type RegistryAccess } from './auth/registry-auth.ts';
