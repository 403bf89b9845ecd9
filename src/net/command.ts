import { execFile } from 'node:child_process';
import { AloftError } from '../lib/errors.ts';

/** What a finished command printed and how it exited. */
export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs a program with an argument array (never a shell string) and reports how it
 * exited; a non-zero exit is a result, not an error. Injected so tests of argument
 * building need neither root nor `ip`.
 */
export type CommandRunner = (file: string, args: readonly string[]) => Promise<CommandResult>;

/** Each `ip` call is quick; one that hangs this long is stuck (e.g. on a lock). */
const COMMAND_TIMEOUT_MS = 15_000;

/** The real runner: execFile with a timeout. Spawn failures and timeouts throw NETWORK_FAILED. */
export const execCommand: CommandRunner = (file, args) =>
  new Promise((resolve, reject) => {
    execFile(file, [...args], { timeout: COMMAND_TIMEOUT_MS, encoding: 'utf8' }, (error, stdout, stderr) => {
      if (error === null) return resolve({ code: 0, stdout, stderr });
      if (typeof error.code === 'number') return resolve({ code: error.code, stdout, stderr });
      reject(
        new AloftError('NETWORK_FAILED', `Cannot run \`${describeCommand(file, args)}\`: ${error.message}`, {
          cause: error,
          details: { command: [file, ...args] },
        }),
      );
    });
  });

/** Runs the command and throws NETWORK_FAILED, with the command and stderr, unless it exits 0. */
export async function mustRun(run: CommandRunner, file: string, args: readonly string[]): Promise<string> {
  const result = await run(file, args);
  if (result.code !== 0) throw commandFailed(file, args, result);
  return result.stdout;
}

/** The NETWORK_FAILED error for a command that exited non-zero: the command, the exit code, stderr's tail. */
export function commandFailed(file: string, args: readonly string[], result: CommandResult): AloftError {
  const stderr = result.stderr.trim().slice(-500);
  return new AloftError('NETWORK_FAILED', `Cannot run \`${describeCommand(file, args)}\`: exit ${result.code}: ${stderr}`, {
    details: { command: [file, ...args], exitCode: result.code, stderr },
  });
}

/** The command as a person would type it, for messages. */
export function describeCommand(file: string, args: readonly string[]): string {
  return [file, ...args].join(' ');
}
