import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

/** Runs a command to completion and returns its stdout; fails the test, with its stderr, when it exits non-zero. */
export function run(command: string, args: string[], input?: string): string {
  const out = spawnSync(command, args, { encoding: 'utf8', input });
  assert.equal(out.status, 0, `${command} ${args.join(' ')}: ${out.stderr}`);
  return out.stdout;
}

/** Waits for `check` to hold, reading it every 100 ms (wireguard-go's state has no events to follow). */
export async function until(what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
