import { AloftError, formatValue } from '../lib/errors.ts';
import { VM_SIZES, sizeNameFor } from '../config/vm-sizes.ts';
import { DEFAULT_GUEST, isTerminal, type Machine, type MachineGuest, type MachineState } from '../model/index.ts';

/** A Machine's process group, as fly.toml's `[processes]` sets it; "app" when it has none. */
export function groupOf(machine: Machine): string {
  return machine.config.metadata?.['fly_process_group'] ?? 'app';
}

/** Machines that count: not destroyed and not on their way out. */
export function countable(machines: readonly Machine[]): Machine[] {
  return machines.filter((m) => !isTerminal(m.state) && m.state !== 'destroying');
}

/**
 * The group a scale acts on: the one named, else the app's only group. An app with
 * several groups must say which, so a scale never lands on the wrong one.
 */
export function chooseGroup(machines: readonly Machine[], asked: string | undefined, action: string): string {
  const groups = [...new Set(machines.map(groupOf))].sort();
  if (asked !== undefined) return asked;
  if (groups.length <= 1) return groups[0] ?? 'app';
  throw new AloftError('INVALID_ARGUMENT', `Cannot ${action} as 'process_group' must name one of the app's groups (${groups.join(', ')}): got nothing`, {
    details: { field: 'process_group' },
  });
}

/** A guest's size as Fly names it ("shared-cpu-2x", "a100-40gb"), whatever its memory. */
export function vmSizeName(guest: MachineGuest | undefined): string {
  const kind = guest?.cpu_kind ?? DEFAULT_GUEST.cpu_kind;
  const cpus = guest?.cpus ?? DEFAULT_GUEST.cpus;
  const named = Object.entries(VM_SIZES).find(([, s]) => s.cpu_kind === kind && s.cpus === cpus && s.gpu_kind === guest?.gpu_kind);
  return named?.[0] ?? sizeNameFor(kind, cpus);
}

/** The guest shown before and after a change. */
export interface GuestView {
  size: string;
  cpu_kind: string;
  cpus: number;
  memory_mb: number;
  gpu_kind?: string;
}

export function guestView(guest: MachineGuest | undefined): GuestView {
  return {
    size: vmSizeName(guest),
    cpu_kind: guest?.cpu_kind ?? DEFAULT_GUEST.cpu_kind,
    cpus: guest?.cpus ?? DEFAULT_GUEST.cpus,
    memory_mb: guest?.memory_mb ?? DEFAULT_GUEST.memory_mb,
    ...(guest?.gpu_kind ? { gpu_kind: guest.gpu_kind } : {}),
  };
}

/**
 * The guest after `scale vm SIZE` and/or `scale memory MB`: a size sets cpu kind, cpus,
 * GPU kind and its default memory; memory overrides that. Memory follows Fly's rule: a
 * multiple of 256 MB, from 256 (shared) or 2048 (performance) per cpu to 8× that.
 */
export function nextGuest(current: MachineGuest | undefined, change: { size?: string | undefined; memoryMb?: number | undefined }, action: string): MachineGuest {
  let guest: MachineGuest = { ...current };
  if (change.size !== undefined) {
    const size = VM_SIZES[change.size];
    if (!size) {
      throw new AloftError('INVALID_ARGUMENT', `Cannot ${action} as 'size' must be one of ${Object.keys(VM_SIZES).join(', ')}: got ${formatValue(change.size)}`, { details: { field: 'size' } });
    }
    const { gpu_kind: _oldGpu, gpus: _oldGpus, ...rest } = guest;
    guest = { ...rest, cpu_kind: size.cpu_kind, cpus: size.cpus, memory_mb: size.memory_mb, ...(size.gpu_kind ? { gpu_kind: size.gpu_kind, gpus: 1 } : {}) };
  }
  if (change.memoryMb !== undefined) guest = { ...guest, memory_mb: change.memoryMb };
  const view = guestView(guest);
  const perCpu = view.cpu_kind === 'performance' ? 2048 : 256;
  const [min, max] = [perCpu * view.cpus, perCpu * 8 * view.cpus];
  if (!Number.isInteger(view.memory_mb) || view.memory_mb % 256 !== 0 || view.memory_mb < min || view.memory_mb > max) {
    throw new AloftError('INVALID_ARGUMENT', `Cannot ${action} as 'memory_mb' must be a multiple of 256 from ${min} to ${max} for ${view.size}: got ${formatValue(view.memory_mb)}`, {
      details: { field: 'memory_mb' },
    });
  }
  return guest;
}

const IDLE: readonly MachineState[] = ['stopped', 'suspended', 'created', 'failed'];

/**
 * Which Machines a scale-down removes, `count` of them: idle ones first (stopped,
 * suspended, created, failed: nobody is using them), then from the region that has the
 * most left (so the group stays spread), then the newest.
 */
export function chooseExtras(machines: readonly Machine[], count: number): Machine[] {
  const left = [...machines];
  const chosen: Machine[] = [];
  const inRegion = (region: string): number => left.filter((m) => m.region === region).length;
  for (let i = 0; i < count && left.length > 0; i++) {
    left.sort((a, b) => {
      const idle = Number(IDLE.includes(b.state)) - Number(IDLE.includes(a.state));
      if (idle !== 0) return idle;
      const crowd = inRegion(b.region) - inRegion(a.region);
      return crowd !== 0 ? crowd : b.createdAt - a.createdAt;
    });
    chosen.push(left.shift()!);
  }
  return chosen;
}

/** `{ams: 2, fra: 1}`: how many Machines each region has. */
export function perRegion(machines: readonly Machine[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of machines) out[m.region] = (out[m.region] ?? 0) + 1;
  return out;
}
