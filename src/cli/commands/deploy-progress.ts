import pc from 'picocolors';
import { ApiError, type ApiClient } from '../api-client.ts';

/** One event of a release's stream (GET …/releases/N/events). */
export interface ReleaseEventView {
  seq: number;
  time: string;
  type: string;
  message: string;
  release: number;
  status?: string;
  code?: string;
  reason?: string;
  transient?: boolean;
  healthy?: boolean;
  lines?: string[];
  [key: string]: unknown;
}

/** How events are shown: live lines on a TTY, plain lines otherwise, NDJSON with --json. */
export type ProgressMode = 'tty' | 'plain' | 'json';

/** How many times a broken event stream is picked up again (from the last event seen) before giving up. */
const RECONNECTS = 5;

/**
 * Prints a release's events as they come until its `done` event, and answers that
 * event. A broken stream (the API restarted) is resumed after the last event seen:
 * the deploy runs in the API, so the CLI only watches.
 */
export async function followRelease(client: ApiClient, app: string, version: number, mode: ProgressMode, write: (text: string) => void = (t) => process.stdout.write(t)): Promise<ReleaseEventView> {
  const render = renderer(mode, version, write);
  let after = 0;
  for (let attempt = 0; ; attempt++) {
    let done: ReleaseEventView | undefined;
    try {
      for await (const event of streamEvents(client, app, version, after)) {
        after = event.seq;
        render(event);
        if (event.type === 'done' && event.release === version) done = event;
      }
    } catch (err) {
      if (attempt >= RECONNECTS || (err instanceof ApiError && err.status >= 400)) throw err;
      continue;
    }
    render.finish();
    if (done) return done;
    if (attempt >= RECONNECTS) throw new ApiError(`Cannot follow release v${version} of ${app} as its event stream must end with its result: got the stream closed early (see 'aloft releases --app ${app}')`, 0, 'DEPLOY_FAILED');
  }
}

async function* streamEvents(client: ApiClient, app: string, version: number, after: number): AsyncGenerator<ReleaseEventView> {
  const { baseUrl, token } = client.options;
  const path = `/apps/${encodeURIComponent(app)}/releases/${version}/events?follow=true&after=${after}`;
  let response: Response;
  try {
    response = await fetch(`${baseUrl}/v1${path}`, { headers: { authorization: `Bearer ${token}` } });
  } catch (err) {
    throw new ApiError(`Cannot reach the aloft API at ${baseUrl} (${(err as Error).message}); is 'aloft up' running?`, 0, 'UNREACHABLE');
  }
  if (!response.ok || !response.body) {
    const error = (await response.json().catch(() => ({}))) as { error?: string; code?: string };
    throw new ApiError(error.error ?? `GET ${path} answered ${response.status}`, response.status, error.code ?? 'UNKNOWN');
  }
  const decoder = new TextDecoder();
  let buffered = '';
  for await (const chunk of response.body) {
    buffered += decoder.decode(chunk as Uint8Array, { stream: true });
    let nl: number;
    while ((nl = buffered.indexOf('\n')) !== -1) {
      const text = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      if (text !== '') yield JSON.parse(text) as ReleaseEventView;
    }
  }
}

type Renderer = ((event: ReleaseEventView) => void) & { finish(): void };

/**
 * The lines a person reads. On a TTY a check update rewrites one status line in place;
 * without a TTY those updates are left out. An auto-rollback's events are indented.
 */
function renderer(mode: ProgressMode, version: number, write: (text: string) => void): Renderer {
  let statusLine = false;
  const clear = (): void => {
    if (statusLine) write('\r\x1b[K');
    statusLine = false;
  };
  const render = ((event: ReleaseEventView) => {
    if (mode === 'json') return write(`${JSON.stringify(event)}\n`);
    const indent = event.release !== version ? '    ' : '';
    if (event.transient) {
      if (mode !== 'tty') return;
      clear();
      write(`${indent}${pc.dim('  …')} ${event.message}`);
      statusLine = true;
      return;
    }
    if (mode === 'tty') clear();
    for (const line of formatEvent(event, mode === 'tty')) write(`${indent}${line}\n`);
  }) as Renderer;
  render.finish = clear;
  return render;
}

/** An event as lines: a mark for its kind, the message; log lines under it. */
export function formatEvent(event: ReleaseEventView, colour: boolean): string[] {
  const c = colour ? pc : { green: id, red: id, yellow: id, cyan: id, dim: id, bold: id };
  const mark: Record<string, string> = {
    plan: c.cyan('==>'),
    release_command: c.cyan(' ->'),
    machine: ' ->',
    health: event.healthy ? c.green('  ✔') : '  …',
    logs: c.yellow('  !'),
    lease: c.dim('  ·'),
    phase: c.cyan('==>'),
    rollback: c.yellow('<=='),
    done: event.status === 'succeeded' ? c.green('✔') : c.red('✖'),
  };
  const message = event.type === 'done' ? `${event.message.split('\n')[0]}` : event.message;
  const out = [`${mark[event.type] ?? '  '} ${event.type === 'plan' || event.type === 'done' ? c.bold(message) : message}`];
  if (event.type === 'logs') for (const line of event.lines ?? []) out.push(`     ${c.dim('|')} ${line}`);
  return out;
}

function id(text: string): string {
  return text;
}
