import { z } from 'zod';
import type { Lease } from '../../store/lease-store.ts';

/** Fly's `Lease`. */
export const leaseSchema = z
  .object({
    nonce: z.string(),
    expires_at: z.number().int().meta({ description: 'Unix seconds (UTC) when the lease lapses.' }),
    owner: z.string(),
    description: z.string(),
    version: z.string().meta({ description: 'The Machine version.' }),
  })
  .meta({ title: 'Lease' });

/** The answer of `POST` and `GET .../lease`: Fly's envelope, which flyctl parses for both. */
export const leaseResponseSchema = z.object({ status: z.literal('success'), data: leaseSchema }).meta({ title: 'LeaseResponse' });

export function renderLease(lease: Lease): z.infer<typeof leaseResponseSchema> {
  return {
    status: 'success',
    data: {
      nonce: lease.nonce,
      // Rounded up: a client that waits until expires_at must find the lease gone.
      expires_at: Math.ceil(lease.expiresAt / 1000),
      owner: lease.owner,
      description: lease.description,
      version: String(lease.machineVersion),
    },
  };
}
