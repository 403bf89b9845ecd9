import { AloftError } from '../lib/errors.ts';

/** The peer and IP stores' errors, in one place so every Store says the same. */

export function peerNotFound(action: string, org: string, name: string): AloftError {
  return new AloftError('PEER_NOT_FOUND', `Cannot ${action} WireGuard peer ${name} as it must exist in org ${org}: got no peer by that name`, {
    details: { org, name },
  });
}

export function peerExists(org: string, name: string): AloftError {
  return new AloftError('PEER_EXISTS', `Cannot create WireGuard peer as 'name' must be unique in org ${org}: got ${name}, which it already has`, {
    details: { org, name },
  });
}

export function peerTaken(field: 'address' | 'publicKey', value: string, holder: string): AloftError {
  return new AloftError('STORE_CONFLICT', `Cannot create WireGuard peer as '${field}' must be unused: got ${value} (held by peer ${holder})`, {
    details: { field, value, holder },
  });
}

export function ipNotFound(action: string, address: string): AloftError {
  return new AloftError('IP_NOT_FOUND', `Cannot ${action} IP address as 'address' must be allocated: got ${address}`, { details: { address } });
}

export function ipTaken(address: string, app: string): AloftError {
  return new AloftError('STORE_CONFLICT', `Cannot allocate IP address as 'address' must be unused: got ${address} (held by app ${app})`, {
    details: { address, app },
  });
}
