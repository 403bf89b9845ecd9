/**
 * Picks the kernel modules a guest needs and the order to load them. Debian's package has
 * no modules.dep (depmod writes it at install time), so dependencies come from each
 * module's own `.modinfo` section (`depends=a,b`), which is all insmod order needs.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AloftError } from '../lib/errors.ts';

/** The virtio drivers a microvm guest needs, in HOST.md's load order. */
export const GUEST_MODULES = ['virtio_ring', 'virtio', 'virtio_mmio', 'virtio_blk', 'failover', 'net_failover', 'virtio_net', 'virtio_console'] as const;

/** Maps module name (dashes as underscores) to its .ko path under `root`. */
export async function indexModules(root: string): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  const entries = await readdir(root, { recursive: true });
  for (const entry of entries) {
    const match = /([^/]+)\.ko$/.exec(entry);
    if (match?.[1] !== undefined) found.set(match[1].replace(/-/g, '_'), join(root, entry));
  }
  return found;
}

/** The `depends=` list of a .ko file (empty when it depends on nothing). */
export function moduleDepends(ko: Buffer): string[] {
  const at = ko.indexOf(Buffer.from('\0depends='));
  if (at < 0) return [];
  const start = at + '\0depends='.length;
  const end = ko.indexOf(0, start);
  const list = ko.subarray(start, end < 0 ? undefined : end).toString('latin1');
  return list === '' ? [] : list.split(',').map((m) => m.replace(/-/g, '_'));
}

/** The wanted modules plus their dependencies, each after what it depends on. */
export async function resolveModuleOrder(index: Map<string, string>, wanted: readonly string[]): Promise<Array<{ name: string; path: string }>> {
  const order: Array<{ name: string; path: string }> = [];
  const done = new Set<string>();
  const visiting = new Set<string>();
  const visit = async (name: string): Promise<void> => {
    if (done.has(name)) return;
    if (visiting.has(name)) throw new AloftError('GUEST_BUILD_FAILED', `Cannot order guest modules as 'depends' must not loop: got one through ${name}`);
    const path = index.get(name);
    if (path === undefined) {
      throw new AloftError('GUEST_BUILD_FAILED', `Cannot build guest modules as '${name}' must be a module of the kernel package: got no ${name}.ko (is it built in?)`);
    }
    visiting.add(name);
    for (const dep of moduleDepends(await readFile(path))) await visit(dep);
    visiting.delete(name);
    done.add(name);
    order.push({ name, path });
  };
  for (const name of wanted) await visit(name);
  return order;
}
