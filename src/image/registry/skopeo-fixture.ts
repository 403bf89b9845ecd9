// skopeo for tests: everything it reads or writes (policy, registries.conf, auth,
// caches) is pointed into a temp dir so the host's own configuration is neither used
// nor touched. Not part of the public face.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { writeOciLayout } from '../index.ts';

const run = promisify(execFile);

/** The skopeo binary, or undefined when it is not installed (tests skip). */
export const SKOPEO = ['/usr/bin/skopeo', '/usr/local/bin/skopeo'].find((p) => existsSync(p));

/** Why skopeo tests skip, or false when they can run. */
export const SKIP_WITHOUT_SKOPEO = SKOPEO === undefined ? 'skopeo is not installed (apt-get install skopeo)' : false;

/** A temp dir for skopeo with a small OCI layout at `<work>/src` (tag latest). */
export interface SkopeoWorkspace {
  work: string;
  skopeo(...args: string[]): Promise<string>;
  cleanUp(): Promise<void>;
}

/** Makes a workspace: isolated config, and the layout to push. */
export async function skopeoWorkspace(): Promise<SkopeoWorkspace> {
  const work = await mkdtemp(join(tmpdir(), 'aloft-skopeo-'));
  await mkdir(join(work, 'home'), { recursive: true });
  await writeFile(join(work, 'registries.conf'), 'unqualified-search-registries = []\n');
  await writeFile(join(work, 'auth.json'), '{"auths":{}}\n');
  const env = {
    PATH: process.env['PATH'] ?? '/usr/bin:/bin',
    HOME: join(work, 'home'),
    XDG_CONFIG_HOME: join(work, 'home', '.config'),
    XDG_RUNTIME_DIR: join(work, 'home'),
    REGISTRY_AUTH_FILE: join(work, 'auth.json'),
    CONTAINERS_REGISTRIES_CONF: join(work, 'registries.conf'),
    TMPDIR: work,
  };
  await writeOciLayout(join(work, 'src'), {
    tag: 'latest',
    files: [
      { path: '/hello.txt', content: 'hello from aloft\n' },
      { path: '/bin', type: 'dir' },
    ],
    config: { cmd: ['/bin/sh'], env: ['PATH=/bin'] },
  });
  return {
    work,
    skopeo: async (...args) => {
      const { stdout } = await run(SKOPEO ?? 'skopeo', ['--insecure-policy', '--registries-conf', join(work, 'registries.conf'), ...args], { env, timeout: 60_000 });
      return stdout;
    },
    cleanUp: () => rm(work, { recursive: true, force: true }),
  };
}
