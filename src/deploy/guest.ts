import { DEFAULT_GUEST, type MachineGuest } from '../model/index.ts';
import type { AppConfig } from '../config/index.ts';

/** The guest fields that make a VM size; others (kernel_args…) are not a size. */
const SIZE_FIELDS = ['cpu_kind', 'cpus', 'memory_mb', 'gpu_kind', 'gpus'] as const;

/** True when the config has a `[[vm]]` section that applies to `group`: only then does it set the size. */
export function configSetsGuest(config: AppConfig, group: string): boolean {
  return (config.vm ?? []).some((vm) => vm.processes === undefined || vm.processes.length === 0 || vm.processes.includes(group));
}

/** "shared 1x 256MB" for messages. */
export function describeGuest(guest: MachineGuest | undefined): string {
  const g = { ...DEFAULT_GUEST, ...guest };
  const gpu = g.gpu_kind ? ` ${g.gpus ?? 1}×${g.gpu_kind}` : '';
  return `${g.cpu_kind} ${g.cpus}x ${g.memory_mb}MB${gpu}`;
}

/** True when two guests are the same VM size (missing fields read as Fly's defaults). */
export function sameSize(a: MachineGuest | undefined, b: MachineGuest | undefined): boolean {
  const x: Record<string, unknown> = { ...DEFAULT_GUEST, ...a };
  const y: Record<string, unknown> = { ...DEFAULT_GUEST, ...b };
  return SIZE_FIELDS.every((f) => (x[f] ?? null) === (y[f] ?? null));
}
