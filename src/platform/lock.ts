import { open, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { AloftError } from '../lib/errors.ts';

/**
 * One aloft per data dir: a pid file created exclusively. A pid file left by a process
 * that is gone (a crash, a kill -9) is taken over; a live one is a clear error.
 */
export async function acquireLock(dataDir: string): Promise<{ release(): Promise<void> }> {
  const path = join(dataDir, 'aloft.pid');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(path, 'wx');
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      return {
        release: async () => {
          const owner = await readFile(path, 'utf8').catch(() => '');
          if (owner.trim() === String(process.pid)) await rm(path, { force: true });
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number((await readFile(path, 'utf8').catch(() => '')).trim());
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && isAlive(pid)) {
        throw new AloftError('ALREADY_RUNNING', `Cannot start aloft as it is already running (pid ${pid}) with data dir ${dataDir}; stop it first (Ctrl-C in its terminal)`);
      }
      await rm(path, { force: true });
    }
  }
  throw new AloftError('ALREADY_RUNNING', `Cannot take the lock ${path}: another aloft keeps taking it`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
