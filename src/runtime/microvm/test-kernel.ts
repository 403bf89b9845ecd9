import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureGuestKernel, type GuestKernel } from '../../guest/kernel.ts';

/** Where tests keep the guest kernel between runs (fetching it takes seconds). */
export const TEST_GUEST_CACHE = process.env['ALOFT_GUEST_CACHE'] ?? join(tmpdir(), 'aloft-guest-cache');

/**
 * The guest kernel for tests that boot a VM, or the reason they must skip (no apt
 * source for the kernel package, e.g. offline). Fetched once and cached.
 */
export async function testGuestKernel(): Promise<{ kernel: GuestKernel; skip: false } | { kernel: null; skip: string }> {
  try {
    return { kernel: await ensureGuestKernel(TEST_GUEST_CACHE), skip: false };
  } catch (err) {
    return { kernel: null, skip: `no guest kernel: ${(err as Error).message}` };
  }
}
