import { execFile } from 'node:child_process';
import { AloftError, type ErrorCode } from './errors.ts';

/** What a finished command printed and how it exited. */
export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** How one command runs: how long it may take, and which code its failure is raised as. */
export interface CommandOptions {
  /** Killed (SIGKILL) after this long: a command that hangs is stuck, e.g. on a lock. */
  timeoutMs: number;
  /** Each part raises its own code (NETWORK_FAILED, RUNTIME_FAILED), so callers can tell whose command failed. */
  errorCode: ErrorCode;
}

/**
 * Runs a program with an argument array (never a shell string) and reports how it
 * exited; a non-zero exit is a result, not an error. Injected so tests of argument
 * building need neither root nor the program.
 */
export type CommandRunner = (file: string, args: readonly string[], options: CommandOptions) => Promise<CommandResult>;

/** Room for `runsc list` and `ip -j` on a busy host; execFile's 1 MiB default is not. */
const MAX_OUTPUT_BYTES = 16 << 20;

/** The real runner: execFile. A missing binary, a timeout or a crash throws `options.errorCode`. */
export const execCommand: CommandRunner = (file, args, { timeoutMs, errorCode }) =>
  new Promise((resolve, reject) => {
    const options = { timeout: timeoutMs, killSignal: 'SIGKILL', encoding: 'utf8', maxBuffer: MAX_OUTPUT_BYTES } as const;
    execFile(file, [...args], options, (error, stdout, stderr) => {
      if (error === null) return resolve({ code: 0, stdout, stderr });
      if (typeof error.code === 'number') return resolve({ code: error.code, stdout, stderr });
      const why = error.killed ? `no answer within ${timeoutMs} ms` : error.message;
      reject(
        new AloftError(errorCode, `Cannot run \`${describeCommand(file, args)}\`: ${why}`, {
          cause: error,
          details: { command: [file, ...args], stderr: tail(stderr) },
        }),
      );
    });
  });

/** Runs the command; throws `options.errorCode` with the command and stderr's tail unless it exits 0. */
export async function mustRun(run: CommandRunner, file: string, args: readonly string[], options: CommandOptions): Promise<string> {
  const result = await run(file, args, options);
  if (result.code !== 0) throw commandFailed(file, args, result, options.errorCode);
  return result.stdout;
}

/** The error for a command that exited non-zero: the command, the exit code, stderr's tail. */
export function commandFailed(file: string, args: readonly string[], result: CommandResult, errorCode: ErrorCode): AloftError {
  const stderr = tail(result.stderr);
  return new AloftError(errorCode, `Cannot run \`${describeCommand(file, args)}\`: exit ${result.code}: ${stderr}`, {
    details: { command: [file, ...args], exitCode: result.code, stderr },
  });
}

/** The command as a person would type it, for messages. */
function describeCommand(file: string, args: readonly string[]): string {
  return [file, ...args].join(' ');
}

/** The last ~1000 characters of some output, trimmed: where programs put the reason. */
export function tail(text: string, chars = 1000): string {
  const trimmed = text.trim();
  return trimmed.length > chars ? `…${trimmed.slice(-chars)}` : trimmed;
}
