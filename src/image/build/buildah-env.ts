import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { registryHost, type RegistryTarget } from './registry-target.ts';

/** How one buildah call runs: its own storage and configuration, never the host's. */
export interface BuildahEnv {
  /** Global flags (storage, registries) to put before the subcommand. */
  globalArgs: string[];
  /** Flags every pulling or pushing subcommand takes (policy, credentials). */
  transportArgs: string[];
  env: NodeJS.ProcessEnv;
  /** Removes the temp configuration (credentials included); the storage stays as the layer cache. */
  cleanUp(): Promise<void>;
}

/** Buildah's storage for a data dir: images and layers (vfs) under `<dataDir>/buildah`. */
export function buildahStorageDir(dataDir: string): string {
  return join(dataDir, 'buildah');
}

/**
 * Writes buildah's configuration into a fresh temp dir under `storageDir` and returns
 * the flags and environment that point buildah at it:
 *
 * - storage: `--storage-driver vfs --root <storageDir>/root --runroot <storageDir>/run`,
 *   so the host's /var/lib/containers is never read or written (vfs: no overlay mounts
 *   to leak, and it works inside containers);
 * - registries.conf: the aloft registry is `insecure` when its URL is http:// (as on
 *   loopback), and
 *   Docker Hub names are rewritten to it: `FROM busybox` pulls
 *   `<aloft registry>/library/busybox:latest`, `FROM acme/base:1` pulls
 *   `<aloft registry>/acme/base:1`. Builds never reach Docker Hub. An empty
 *   registries.conf.d replaces the host's short-name aliases;
 * - policy.json accepting any image (the registry is ours, and digests are verified);
 * - auth.json (mode 0600) with the registry token, used for pulls and pushes, so the
 *   token never shows in a process list.
 */
export async function prepareBuildahEnv(storageDir: string, registry?: RegistryTarget): Promise<BuildahEnv> {
  await mkdir(storageDir, { recursive: true, mode: 0o700 });
  const dir = await mkdtemp(join(storageDir, 'config-'));
  await chmod(dir, 0o700);
  await mkdir(join(dir, 'registries.conf.d'));
  await mkdir(join(dir, 'home'));
  await mkdir(join(dir, 'tmp'));
  const host = registry === undefined ? undefined : registryHost(registry);
  // An http:// URL (the aloft registry on loopback) means plain HTTP: `insecure` in containers' terms.
  const insecure = registry !== undefined && registry.url.startsWith('http:');
  const conf =
    host === undefined
      ? 'unqualified-search-registries = []\nshort-name-mode = "permissive"\n'
      : [
          'unqualified-search-registries = ["docker.io"]',
          'short-name-mode = "permissive"',
          '[[registry]]',
          'prefix = "docker.io"',
          `location = "${host}"`,
          `insecure = ${insecure}`,
          '[[registry]]',
          `location = "${host}"`,
          `insecure = ${insecure}`,
          '',
        ].join('\n');
  await writeFile(join(dir, 'registries.conf'), conf);
  // buildah 1.28's bud still reads the host's /etc/containers/registries.conf.d (its
  // --registries-conf-dir does not reach short-name resolution), whose aliases send
  // names such as "fedora" to other registries. The per-user drop-in dir (under our
  // HOME) is read last and wins, so it repeats our settings and maps every host alias
  // back to the aloft registry, by the same rule as any other short name.
  const userDropIn = join(dir, 'home', '.config', 'containers', 'registries.conf.d');
  await mkdir(userDropIn, { recursive: true });
  const aliases = host === undefined ? [] : await hostAliases();
  const aliasTable = aliases.length === 0 ? '' : `[aliases]\n${aliases.map((a) => `${JSON.stringify(a)} = ${JSON.stringify(`docker.io/${a.includes('/') ? a : `library/${a}`}`)}`).join('\n')}\n`;
  await writeFile(join(userDropIn, '99-aloft.conf'), `${conf}${aliasTable}`);
  // Our own storage.conf, so the host's (additional image stores, driver options) never applies.
  const storageConf = `[storage]\ndriver = "vfs"\ngraphroot = ${JSON.stringify(join(storageDir, 'root'))}\nrunroot = ${JSON.stringify(join(storageDir, 'run'))}\n`;
  await writeFile(join(dir, 'storage.conf'), storageConf);
  await writeFile(join(dir, 'policy.json'), `${JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] })}\n`);
  const auths = registry === undefined || host === undefined ? {} : { [host]: { auth: Buffer.from(`aloft:${registry.token}`).toString('base64') } };
  await writeFile(join(dir, 'auth.json'), `${JSON.stringify({ auths })}\n`, { mode: 0o600 });
  return {
    globalArgs: [
      '--storage-driver',
      'vfs',
      '--root',
      join(storageDir, 'root'),
      '--runroot',
      join(storageDir, 'run'),
      '--registries-conf',
      join(dir, 'registries.conf'),
      '--registries-conf-dir',
      join(dir, 'registries.conf.d'),
    ],
    transportArgs: ['--signature-policy', join(dir, 'policy.json'), '--authfile', join(dir, 'auth.json')],
    env: {
      PATH: process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin',
      HOME: join(dir, 'home'),
      XDG_CONFIG_HOME: join(dir, 'home', '.config'),
      XDG_RUNTIME_DIR: join(dir, 'home'),
      TMPDIR: join(dir, 'tmp'),
      REGISTRY_AUTH_FILE: join(dir, 'auth.json'),
      CONTAINERS_REGISTRIES_CONF: join(dir, 'registries.conf'),
      CONTAINERS_STORAGE_CONF: join(dir, 'storage.conf'),
      BUILDAH_ISOLATION: 'chroot',
    },
    cleanUp: () => rm(dir, { recursive: true, force: true }),
  };
}

/** The short-name aliases the host's containers configuration defines (their names only). */
async function hostAliases(etc = '/etc/containers'): Promise<string[]> {
  const files = [join(etc, 'registries.conf')];
  for (const name of (await readdir(join(etc, 'registries.conf.d')).catch(() => [])).sort()) {
    if (name.endsWith('.conf')) files.push(join(etc, 'registries.conf.d', name));
  }
  const names = new Set<string>();
  for (const file of files) {
    let inAliases = false;
    for (const line of (await readFile(file, 'utf8').catch(() => '')).split('\n')) {
      const trimmed = line.trim();
      if (trimmed.startsWith('[')) inAliases = trimmed === '[aliases]';
      const alias = inAliases ? /^"([a-z0-9][a-z0-9._/-]*)"\s*=/.exec(trimmed) : null;
      if (alias?.[1]) names.add(alias[1]);
    }
  }
  return [...names].sort();
}
