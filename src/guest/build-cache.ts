/**
 * Builds a directory once per key: into a temp dir beside it, then one rename, so a reader
 * never sees half a build. Callers in this process share one promise per directory; a
 * second process that loses the rename race throws its copy away and uses the winner's.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

const inFlight = new Map<string, Promise<string>>();

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/** Returns `finalDir`, running `build(tempDir)` first unless it already exists. */
export function buildOnce(finalDir: string, build: (tempDir: string) => Promise<void>): Promise<string> {
  const running = inFlight.get(finalDir);
  if (running !== undefined) return running;
  const job = (async () => {
    if (await exists(finalDir)) return finalDir;
    await mkdir(dirname(finalDir), { recursive: true });
    const temp = join(dirname(finalDir), `.${basename(finalDir)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
    await mkdir(temp);
    try {
      await build(temp);
      try {
        await rename(temp, finalDir);
      } catch (err) {
        // Another process renamed its build into place first: theirs is as good as ours.
        if (!(await exists(finalDir))) throw err;
      }
    } finally {
      await rm(temp, { recursive: true, force: true });
    }
    return finalDir;
  })();
  inFlight.set(finalDir, job);
  job.then(
    () => inFlight.delete(finalDir),
    () => inFlight.delete(finalDir),
  );
  return job;
}
