/** The header that carries a lease's nonce, as Fly names it. */
export const LEASE_NONCE_HEADER = 'fly-machine-lease-nonce';
