import { appendFile } from 'node:fs/promises';
import type { MachineLogs } from './machine-logs.ts';

/**
 * For tests: appends `lines` to a Machine's log file and resolves once `logs` has read
 * them all, so a test waits for the event rather than for time.
 */
export async function appendLogLines(logs: MachineLogs, machineId: string, file: string, lines: readonly string[]): Promise<void> {
  const seen = new Promise<void>((resolve) => {
    let left = lines.length;
    const unsubscribe = logs.subscribe(machineId, () => {
      if (--left === 0) {
        unsubscribe();
        resolve();
      }
    });
  });
  await appendFile(file, lines.map((l) => `${l}\n`).join(''));
  await seen;
}
