import type { Descriptor } from './oci-schemas.ts';

/** An OCI platform: what an image was built for. */
export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

// Node's process.arch names, mapped to the GOARCH names images use.
const ARCHES: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', s390x: 's390x', ppc64: 'ppc64le', riscv64: 'riscv64' };

/** The platform of this host, e.g. linux/amd64: the only one its Machines can run. */
export function hostPlatform(): Platform {
  return { os: 'linux', architecture: ARCHES[process.arch] ?? process.arch };
}

/** "linux/amd64" or "linux/arm/v7". */
export function formatPlatform(platform: { os: string; architecture: string; variant?: string | undefined }): string {
  return [platform.os, platform.architecture, platform.variant].filter(Boolean).join('/');
}

/** True when an index entry is for `wanted` (a missing variant matches any). */
export function matchesPlatform(descriptor: Descriptor, wanted: Platform): boolean {
  const p = descriptor.platform;
  if (!p) return false;
  if (p.os !== wanted.os || p.architecture !== wanted.architecture) return false;
  return wanted.variant === undefined || p.variant === undefined || p.variant === wanted.variant;
}
