import { AloftError } from '../lib/errors.ts';

/**
 * The errors the lease, org and token parts of every Store raise, built in one place so
 * that each Store implementation says the same thing in the same words.
 */

/** Another holder's unexpired lease covers the machine. */
export function machineLeased(action: string, machineId: string, owner: string, expiresAt: number): AloftError {
  return new AloftError(
    'MACHINE_LEASED',
    `Cannot ${action} machine ${machineId} as 'fly-machine-lease-nonce' must be the nonce of its lease: lease currently held by ${owner}, expires at ${new Date(expiresAt).toISOString()}`,
    { details: { machineId, owner, expiresAt } },
  );
}

export function leaseNotFound(action: string, machineId: string): AloftError {
  return new AloftError('LEASE_NOT_FOUND', `Cannot ${action} the lease of machine ${machineId} as it must have an unexpired lease: got none`, {
    details: { machineId },
  });
}

export function orgExists(slug: string): AloftError {
  return new AloftError('ORG_EXISTS', `Cannot create org as 'slug' must be unique: got a taken slug "${slug}"`, { details: { orgSlug: slug } });
}

export function orgNotFound(action: string, slug: string): AloftError {
  return new AloftError('ORG_NOT_FOUND', `Cannot ${action} as 'org' must be an existing org: got "${slug}"`, { details: { orgSlug: slug } });
}

export function tokenNotFound(action: string, id: string): AloftError {
  return new AloftError('TOKEN_NOT_FOUND', `Cannot ${action} token ${id} as it must exist: got no token by that id`, { details: { tokenId: id } });
}

export function tokenTaken(id: string): AloftError {
  return new AloftError('STORE_CONFLICT', `Cannot create token as its 'id' and secret hash must be unique: got a taken one (${id})`, {
    details: { tokenId: id },
  });
}
