export { BackendPools, DEFAULT_BACKEND_TIMEOUTS } from './backend-pools.ts';
export { BackendError, type BackendErrorCode } from './backend-error.ts';
export type { Backend, BackendController, BackendHandler, BackendRequest, BackendTimeouts } from './types.ts';
