import { execFile } from 'node:child_process';
import { AloftError } from '../lib/errors.ts';

/** What a finished command printed and how it exited. */
export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs a program with an argument array (never a shell string) within `timeoutMs`; a
 * non-zero exit is a result, not an error. Injected where tests build arguments.
 */
export type CommandRunner = (file: string, args: readonly string[], options: { timeoutMs: number }) => Promise<CommandResult>;

/** The real runner: execFile. A missing binary, a timeout or a crash throws RUNTIME_FAILED. */
export const execCommand: CommandRunner = (file, args, { timeoutMs }) =>
  new Promise((resolve, reject) => {
    execFile(file, [...args], { timeout: timeoutMs, killSignal: 'SIGKILL', encoding: 'utf8', maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      if (error === null) return resolve({ code: 0, stdout, stderr });
      if (typeof error.code === 'number') return resolve({ code: error.code, stdout, stderr });
      const why = error.killed ? `no answer within ${timeoutMs} ms` : error.message;
      reject(
        new AloftError('RUNTIME_FAILED', `Cannot run \`${describeCommand(file, args)}\`: ${why}`, {
          cause: error,
          details: { command: [file, ...args], stderr: tail(stderr) },
        }),
      );
    });
  });

/** Runs the command; throws RUNTIME_FAILED with the command and stderr's tail unless it exits 0. */
export async function mustRun(run: CommandRunner, file: string, args: readonly string[], timeoutMs: number): Promise<string> {
  const result = await run(file, args, { timeoutMs });
  if (result.code !== 0) throw commandFailed(file, args, result);
  return result.stdout;
}

/** The RUNTIME_FAILED error for a command that exited non-zero. */
export function commandFailed(file: string, args: readonly string[], result: CommandResult): AloftError {
  const stderr = tail(result.stderr);
  return new AloftError('RUNTIME_FAILED', `Cannot run \`${describeCommand(file, args)}\`: exit ${result.code}: ${stderr}`, {
    details: { command: [file, ...args], exitCode: result.code, stderr },
  });
}

/** The command as a person would type it, for messages. */
export function describeCommand(file: string, args: readonly string[]): string {
  return [file, ...args].join(' ');
}

/** The last ~1000 characters of some output, trimmed: where runtimes put the reason. */
export function tail(text: string, chars = 1000): string {
  const trimmed = text.trim();
  return trimmed.length > chars ? `…${trimmed.slice(-chars)}` : trimmed;
}
