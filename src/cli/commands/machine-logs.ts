import type { Command } from 'commander';
import pc from 'picocolors';
import { ApiError, clientFromEnv, type ApiClient } from '../api-client.ts';

/** One line as `GET …/logs` answers it. */
export interface LogLineView {
  timestamp: string;
  machine_id: string;
  message: string;
  truncated?: true;
}

const MAX_TAIL = 10_000;

/** `timestamp message` for people (the time dimmed on a TTY), or the line as one JSON object. */
export function formatLogLine(line: LogLineView, json: boolean): string {
  if (json) return JSON.stringify(line);
  return `${pc.dim(line.timestamp)} ${line.message}${line.truncated ? pc.dim(' [truncated]') : ''}`;
}

/** Parses `-n`: a whole number of lines the API accepts. */
export function parseTail(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > MAX_TAIL) {
    throw new ApiError(`Cannot read machine logs as '-n' must be a whole number from 1 to ${MAX_TAIL}: got "${value}"`, 0, 'INVALID_ARGUMENT');
  }
  return n;
}

/**
 * Writes a Machine's lines to `write`: the last `tail` the host kept, then with `follow`
 * each new one as the API streams it (NDJSON) until the stream ends or `signal` aborts.
 */
export async function streamLogs(
  client: ApiClient,
  target: { app: string; id: string },
  options: { tail?: number; follow?: boolean; json?: boolean; signal?: AbortSignal },
  write: (text: string) => void,
): Promise<void> {
  const query = new URLSearchParams();
  if (options.tail !== undefined) query.set('tail', String(options.tail));
  if (options.follow) query.set('follow', 'true');
  const path = `/apps/${encodeURIComponent(target.app)}/machines/${encodeURIComponent(target.id)}/logs${query.size > 0 ? `?${query}` : ''}`;
  if (!options.follow) {
    for (const line of await client.get<LogLineView[]>(path)) write(`${formatLogLine(line, options.json === true)}\n`);
    return;
  }
  const { baseUrl, token } = client.options;
  let response: Response;
  try {
    response = await fetch(`${baseUrl}/v1${path}`, { headers: { authorization: `Bearer ${token}` }, ...(options.signal ? { signal: options.signal } : {}) });
  } catch (err) {
    if (options.signal?.aborted) return;
    throw new ApiError(`Cannot reach the aloft API at ${baseUrl} (${(err as Error).message}); is 'aloft up' running?`, 0, 'UNREACHABLE');
  }
  if (!response.ok || !response.body) {
    const error = (await response.json().catch(() => ({}))) as { error?: string; code?: string };
    throw new ApiError(error.error ?? `GET ${path} answered ${response.status}`, response.status, error.code ?? 'UNKNOWN');
  }
  const decoder = new TextDecoder();
  let buffered = '';
  try {
    for await (const chunk of response.body) {
      buffered += decoder.decode(chunk as Uint8Array, { stream: true });
      let nl: number;
      while ((nl = buffered.indexOf('\n')) !== -1) {
        const text = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (text !== '') write(`${formatLogLine(JSON.parse(text) as LogLineView, options.json === true)}\n`);
      }
    }
  } catch (err) {
    if (!options.signal?.aborted) throw err;
  }
}

/** `aloft machine logs <id>`: a Machine's output, `-n` lines, `-f` to follow. */
export function machineLogsCommand(program: Command): void {
  const machine = program.commands.find((c) => c.name() === 'machine');
  if (!machine) throw new Error('machineLogsCommand must be registered after machineCommand');
  machine
    .command('logs <id>')
    .description("a machine's output (stdout/stderr, a microVM's console), line by line")
    .requiredOption('-a, --app <name>', 'the app (or ALOFT_APP)', process.env['ALOFT_APP'])
    .option('-n, --lines <n>', `the last N lines (1-${MAX_TAIL}; default: all the host keeps)`)
    .option('-f, --follow', 'keep printing new lines until interrupted')
    .option('--json', 'print each line as a JSON object (NDJSON)')
    .action(async (id: string, opts: { app: string; lines?: string; follow?: boolean; json?: boolean }) => {
      const tail = opts.lines === undefined ? undefined : parseTail(opts.lines);
      const client = await clientFromEnv();
      await streamLogs(
        client,
        { app: opts.app, id },
        { ...(tail === undefined ? {} : { tail }), follow: opts.follow === true, json: opts.json === true },
        (text) => process.stdout.write(text),
      );
    });
}
