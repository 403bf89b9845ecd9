import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'aloft.js');

/** How one `aloft …` run ended. */
export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `aloft …` as a user would (a child process, no colours) with `env` over this
 * process's; never throws: the caller checks the exit code.
 */
export function runAloft(args: string[], env: Record<string, string>, cwd?: string): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { ...(cwd ? { cwd } : {}), env: { ...process.env, ...env, NO_COLOR: '1' } }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** The run's stdout as JSON, after checking it exited 0. */
export function json<T>(run: Run): T {
  assert.equal(run.code, 0, run.stderr);
  return JSON.parse(run.stdout) as T;
}

/** A failed command says one line on stderr, matching `pattern`, and exits 1. */
export function fails(run: Run, pattern: RegExp): void {
  assert.equal(run.code, 1, `expected exit 1: ${run.stdout}`);
  assert.equal(run.stderr.trim().split('\n').length, 1, `one line, no stack trace: ${run.stderr}`);
  assert.match(run.stderr, pattern);
}
