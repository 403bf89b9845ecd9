import { readFile, writeFile } from 'node:fs/promises';
import { buildCpio } from './newc-cpio.ts';

/**
 * For tests: an initramfs whose /init (busybox sh) counts up on the console every
 * 100 ms, forever. A counter that goes on from where it was after a suspend and resume
 * proves the guest's memory survived; one that starts again at 1 means a cold boot.
 */
export async function writeCounterInitramfs(file: string, busybox = '/bin/busybox'): Promise<void> {
  const init = `#!/bin/busybox sh
/bin/busybox mount -t proc proc /proc
i=0
while true; do i=$((i+1)); echo "tick $i"; /bin/busybox usleep 100000; done
`;
  await writeFile(
    file,
    buildCpio([
      { type: 'dir', name: 'bin' },
      { type: 'dir', name: 'dev' },
      { type: 'dir', name: 'proc' },
      { type: 'char', name: 'dev/console', major: 5, minor: 1, mode: 0o600 },
      { type: 'file', name: 'bin/busybox', data: await readFile(busybox), mode: 0o755 },
      { type: 'file', name: 'init', data: Buffer.from(init), mode: 0o755 },
    ]),
  );
}

/** The tick numbers printed to a console log so far. */
export async function readTicks(consoleLog: string): Promise<number[]> {
  const text = await readFile(consoleLog, 'utf8').catch(() => '');
  return [...text.matchAll(/^tick (\d+)\r?$/gm)].map((m) => Number(m[1]));
}

/** Resolves once the console shows a tick above `after` (polls the file; QEMU writes it). */
export async function waitForTick(consoleLog: string, after: number, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ticks = await readTicks(consoleLog);
    const last = ticks.at(-1) ?? 0;
    if (last > after) return last;
    if (Date.now() > deadline) throw new Error(`no tick above ${after} within ${timeoutMs} ms (last ${last})`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
