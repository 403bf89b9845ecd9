import pc from 'picocolors';

/** Human output: short, coloured on a TTY; `--json` prints data for scripts instead. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function printTable(headers: string[], rows: string[][]): void {
  if (rows.length === 0) return;
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  process.stdout.write(`${pc.bold(line(headers))}\n`);
  for (const row of rows) process.stdout.write(`${line(row)}\n`);
}

export function colourState(state: string): string {
  if (state === 'started') return pc.green(state);
  if (state === 'failed' || state === 'destroyed') return pc.red(state);
  if (state.endsWith('ing')) return pc.yellow(state);
  return state;
}

export function say(message: string): void {
  process.stdout.write(`${message}\n`);
}

/** The one line a failed command prints, on stderr. */
export function sayError(message: string): void {
  process.stderr.write(`${pc.red('Error:')} ${message}\n`);
}
