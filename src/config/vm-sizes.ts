import type { MachineGuest } from '../model/index.ts';

/**
 * Fly's named VM sizes (`[[vm]] size`, `fly scale vm`): CPU kind and count, memory,
 * and for GPU sizes the GPU kind. Memory is the size's default; `memory` overrides it.
 */
export const VM_SIZES: Readonly<Record<string, Required<Pick<MachineGuest, 'cpu_kind' | 'cpus' | 'memory_mb'>> & { gpu_kind?: string }>> = {
  'shared-cpu-1x': { cpu_kind: 'shared', cpus: 1, memory_mb: 256 },
  'shared-cpu-2x': { cpu_kind: 'shared', cpus: 2, memory_mb: 512 },
  'shared-cpu-4x': { cpu_kind: 'shared', cpus: 4, memory_mb: 1024 },
  'shared-cpu-8x': { cpu_kind: 'shared', cpus: 8, memory_mb: 2048 },
  'performance-1x': { cpu_kind: 'performance', cpus: 1, memory_mb: 2048 },
  'performance-2x': { cpu_kind: 'performance', cpus: 2, memory_mb: 4096 },
  'performance-4x': { cpu_kind: 'performance', cpus: 4, memory_mb: 8192 },
  'performance-8x': { cpu_kind: 'performance', cpus: 8, memory_mb: 16384 },
  'performance-16x': { cpu_kind: 'performance', cpus: 16, memory_mb: 32768 },
  a10: { cpu_kind: 'performance', cpus: 8, memory_mb: 32768, gpu_kind: 'a10' },
  l40s: { cpu_kind: 'performance', cpus: 8, memory_mb: 32768, gpu_kind: 'l40s' },
  'a100-40gb': { cpu_kind: 'performance', cpus: 8, memory_mb: 32768, gpu_kind: 'a100-pcie-40gb' },
  'a100-80gb': { cpu_kind: 'performance', cpus: 8, memory_mb: 32768, gpu_kind: 'a100-sxm4-80gb' },
};

/** The size name for a CPU kind and count ("shared", 2 → "shared-cpu-2x"), as Fly names them. */
export function sizeNameFor(cpuKind: 'shared' | 'performance', cpus: number): string {
  return cpuKind === 'shared' ? `shared-cpu-${cpus}x` : `performance-${cpus}x`;
}
