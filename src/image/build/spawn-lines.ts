import { spawn } from 'node:child_process';
import { AloftError, type ErrorCode } from '../../lib/errors.ts';

/** How a streamed command ended: its exit code and the last lines it printed. */
export interface StreamedResult {
  code: number;
  tail: string[];
}

/**
 * Runs a program (argument array, no shell), handing each line of stdout and stderr
 * to `onLine` as it comes, and keeping the last `keep` lines for error messages.
 * A timeout kills it (SIGKILL) and reports exit 137. A program that cannot start
 * rejects with `errorCode`.
 */
export function spawnLines(
  file: string,
  args: readonly string[],
  options: { env: NodeJS.ProcessEnv; cwd?: string; timeoutMs: number; onLine?: (line: string) => void; keep?: number; errorCode: ErrorCode },
): Promise<StreamedResult> {
  const keep = options.keep ?? 40;
  const tail: string[] = [];
  return new Promise((resolve, reject) => {
    const child = spawn(file, [...args], { env: options.env, cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
    const take = (stream: NodeJS.ReadableStream): void => {
      let partial = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        const lines = (partial + chunk).split('\n');
        partial = lines.pop() ?? '';
        for (const line of lines) emit(line);
      });
      stream.on('end', () => {
        if (partial !== '') emit(partial);
      });
    };
    const emit = (line: string): void => {
      tail.push(line);
      if (tail.length > keep) tail.shift();
      options.onLine?.(line);
    };
    take(child.stdout);
    take(child.stderr);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new AloftError(options.errorCode, `Cannot run \`${file}\`: ${err.message}`, { cause: err }));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal === 'SIGKILL' ? 137 : 1), tail });
    });
  });
}
