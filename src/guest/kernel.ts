/**
 * The guest kernel: Debian's cloud kernel package, fetched with apt, its PVH vmlinux
 * extracted and the virtio modules kept. Cached per host under `cacheDir/kernel-<pkg>_<ver>`,
 * so a new package version (a kernel update) builds a new directory and the old stays
 * valid for VMs still running on it.
 */
import { copyFile, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execCommand, mustRun, type CommandRunner } from '../lib/command.ts';
import { AloftError } from '../lib/errors.ts';
import { buildOnce } from './build-cache.ts';
import { GUEST_MODULES, indexModules, resolveModuleOrder } from './modules.ts';
import { extractPvhVmlinux } from './vmlinux.ts';

/** The metapackage whose dependency names the current cloud kernel. */
export const KERNEL_METAPACKAGE = 'linux-image-cloud-amd64';

/** A ready guest kernel. */
export interface GuestKernel {
  /** The PVH ELF to pass to `-kernel`. */
  vmlinux: string;
  /** Holds `<name>.ko` for each module and `order` (one name a line, load order). */
  modulesDir: string;
  /** Module names in load order. */
  modules: string[];
  /** `<package>_<version>`, e.g. `linux-image-6.1.0-56-cloud-amd64_6.1.192-2`: the cache key. */
  version: string;
}

export interface GuestKernelOptions {
  /** A kernel package to use instead of the metapackage's current dependency. */
  packageName?: string;
  run?: CommandRunner;
  /** Extra modules beyond the virtio set. */
  extraModules?: string[];
}

const APT = { timeoutMs: 300_000, errorCode: 'GUEST_BUILD_FAILED' } as const;

/** Which kernel package and version apt would install now. */
export async function resolveKernelPackage(run: CommandRunner = execCommand, packageName?: string): Promise<{ name: string; version: string }> {
  let name = packageName;
  if (name === undefined) {
    const deps = await mustRun(run, 'apt-cache', ['depends', KERNEL_METAPACKAGE], APT);
    name = /Depends:\s*(linux-image-\S+)/.exec(deps)?.[1];
    if (name === undefined) {
      throw new AloftError('GUEST_BUILD_FAILED', `Cannot find the guest kernel as '${KERNEL_METAPACKAGE}' must depend on a linux-image package: got ${JSON.stringify(deps.trim().slice(0, 200))} (run apt-get update?)`);
    }
  }
  const policy = await mustRun(run, 'apt-cache', ['policy', name], APT);
  const version = /Candidate:\s*(\S+)/.exec(policy)?.[1];
  if (version === undefined || version === '(none)') {
    throw new AloftError('GUEST_BUILD_FAILED', `Cannot find the guest kernel as '${name}' must have an apt candidate version: got ${JSON.stringify(policy.trim().slice(0, 200))}`);
  }
  return { name, version };
}

async function buildKernel(dir: string, pkg: { name: string; version: string }, run: CommandRunner, wanted: string[]): Promise<void> {
  // apt-get download writes into the current directory; `sh -c` gives it one.
  await mustRun(run, 'sh', ['-c', 'cd "$1" && exec apt-get -q -o APT::Sandbox::User=root download "$2=$3"', 'sh', dir, pkg.name, pkg.version], APT);
  const debs = (await readdir(dir)).filter((f) => f.endsWith('.deb'));
  if (debs[0] === undefined) throw new AloftError('GUEST_BUILD_FAILED', `Cannot fetch the guest kernel as 'apt-get download ${pkg.name}' must leave a .deb: got none`);
  const tree = join(dir, 'pkg');
  await mustRun(run, 'dpkg-deb', ['-x', join(dir, debs[0]), tree], APT);
  const vmlinuz = (await readdir(join(tree, 'boot'))).find((f) => f.startsWith('vmlinuz-'));
  if (vmlinuz === undefined) throw new AloftError('GUEST_BUILD_FAILED', `Cannot extract the guest kernel as '${pkg.name}' must ship /boot/vmlinuz-*: got none`);
  await extractPvhVmlinux(join(tree, 'boot', vmlinuz), join(dir, 'vmlinux'));
  const order = await resolveModuleOrder(await indexModules(join(tree, 'lib/modules')), wanted);
  const modulesDir = join(dir, 'modules');
  await mkdir(modulesDir);
  for (const m of order) await copyFile(m.path, join(modulesDir, `${m.name}.ko`));
  await writeFile(join(modulesDir, 'order'), order.map((m) => m.name).join('\n') + '\n');
  await writeFile(join(dir, 'version'), `${pkg.name}_${pkg.version}\n`);
  // Only what boots a VM stays; the 100 MB package tree and .deb go with the temp dir.
  await mustRun(run, 'rm', ['-rf', tree, ...debs.map((d) => join(dir, d))], APT);
}

/**
 * Returns the guest kernel for this host, fetching and extracting it first when the
 * cache has none for the current package version. Concurrent callers build once.
 */
export async function ensureGuestKernel(cacheDir: string, options: GuestKernelOptions = {}): Promise<GuestKernel> {
  const run = options.run ?? execCommand;
  const pkg = await resolveKernelPackage(run, options.packageName);
  if (!/^[A-Za-z0-9.+~:_-]+$/.test(pkg.name + pkg.version)) {
    throw new AloftError('GUEST_BUILD_FAILED', `Cannot cache the guest kernel as 'version' must be a plain package version: got ${JSON.stringify(pkg.version)}`);
  }
  const version = `${pkg.name}_${pkg.version}`;
  const wanted = [...GUEST_MODULES, ...(options.extraModules ?? [])];
  const extra = options.extraModules === undefined || options.extraModules.length === 0 ? '' : `+${[...options.extraModules].sort().join(',')}`;
  const dir = await buildOnce(join(cacheDir, `kernel-${version.replace(/:/g, '%')}${extra}`), (temp) => buildKernel(temp, pkg, run, wanted));
  const modules = (await readFile(join(dir, 'modules/order'), 'utf8')).split('\n').filter((m) => m !== '');
  return { vmlinux: join(dir, 'vmlinux'), modulesDir: join(dir, 'modules'), modules, version };
}
