/**
 * Builds aloft-init (init/aloft-init.c), the guest's PID 1, as a static binary with the
 * host's gcc. Cached under `cacheDir/init-<hash>` by the hash of the source and flags, so
 * editing the source rebuilds it and nothing else does.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execCommand, mustRun, type CommandRunner } from '../lib/command.ts';
import { buildOnce } from './build-cache.ts';

/** Where the init's C source lives. */
export const GUEST_INIT_SOURCE = fileURLToPath(new URL('./init/aloft-init.c', import.meta.url));

const FLAGS = ['-static', '-Os', '-s', '-Wall', '-Wno-format-truncation', '-ffunction-sections', '-fdata-sections', '-Wl,--gc-sections'];

/** Compiles the guest init (once per source version) and returns the binary's path. */
export async function buildGuestInit(cacheDir: string, run: CommandRunner = execCommand): Promise<string> {
  const source = await readFile(GUEST_INIT_SOURCE);
  const hash = createHash('sha256').update(source).update(FLAGS.join(' ')).digest('hex').slice(0, 16);
  const dir = await buildOnce(join(cacheDir, `init-${hash}`), async (temp) => {
    await mustRun(run, 'gcc', [...FLAGS, '-o', join(temp, 'aloft-init'), GUEST_INIT_SOURCE], { timeoutMs: 120_000, errorCode: 'GUEST_BUILD_FAILED' });
  });
  return join(dir, 'aloft-init');
}
