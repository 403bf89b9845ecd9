import { execFile } from 'node:child_process';
import { cp } from 'node:fs/promises';
import { promisify } from 'node:util';
import { AloftError } from '../../src/lib/errors.ts';

const run = promisify(execFile);

/** This example's folder. */
export const NODE_HELLO_DIR = import.meta.dirname;

/**
 * Copies the example to `dir` (without any node_modules of its own) and installs its
 * dependencies there with `npm ci --offline`: its one dependency is the `file:` package
 * in vendor/, so nothing is fetched. Returns `dir`, ready for buildNodeApp.
 */
export async function prepareNodeHello(dir: string): Promise<string> {
  await cp(NODE_HELLO_DIR, dir, { recursive: true, filter: (source) => !source.includes('/node_modules') && !source.endsWith('.ts') });
  try {
    await run('npm', ['ci', '--offline', '--no-audit', '--no-fund', '--ignore-scripts'], { cwd: dir, timeout: 120_000 });
  } catch (err) {
    throw new AloftError('BUILD_FAILED', `Cannot prepare the node-hello example as \`npm ci --offline\` must succeed in ${dir}: got ${(err as Error).message}`, { cause: err });
  }
  return dir;
}
