import { randomBytes } from 'node:crypto';
import { rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Writes each file in `dir` through a temporary file and a rename, all temporaries
 * first: a failure leaves none of the files half-written (and the temporaries removed).
 */
export async function writeFilesAtomically(dir: string, files: Record<string, string>): Promise<void> {
  const temps: [string, string][] = [];
  try {
    for (const [name, content] of Object.entries(files)) {
      const temp = join(dir, `.${name}.${randomBytes(4).toString('hex')}.tmp`);
      temps.push([temp, join(dir, name)]);
      await writeFile(temp, content, { flag: 'wx' });
    }
    for (const [temp, target] of temps) await rename(temp, target);
  } finally {
    await Promise.all(temps.map(([temp]) => rm(temp, { force: true })));
  }
}
