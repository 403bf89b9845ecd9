import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { ALOFT_BIN, labApiEnv } from '../lab-platform.ts';
import { resolvePlace } from '../lab-plan.ts';
import type { LabState } from '../lab-state.ts';

const run = promisify(execFile);

/** What a GET from inside the lab got. */
export interface LabAnswer {
  status: number;
  body: string;
  /** The region of the edge that answered: Fly-Request-Id ends in it. */
  edge: string;
  error?: string;
}

/**
 * GET `path` on `address` port 80 with `Host: host` from a place in the lab, on a fresh
 * connection, in a Node one-liner run inside the place's namespace.
 */
const GET = `
const http = require('node:http');
const [address, host, path] = process.argv.slice(1);
const req = http.get({ host: address, port: 80, path, headers: { host }, agent: false, timeout: 10000 }, (res) => {
  let body = '';
  res.setEncoding('utf8').on('data', (c) => (body += c)).on('end', () => {
    const id = String(res.headers['fly-request-id'] ?? '');
    console.log(JSON.stringify({ status: res.statusCode, body, edge: id.slice(id.lastIndexOf('-') + 1) }));
  });
});
req.on('timeout', () => req.destroy(new Error('timed out')));
req.on('error', (e) => console.log(JSON.stringify({ status: 0, body: '', edge: '', error: e.message })));
`;

/** GET through the lab's anycast address (v4, or v6 with `family: 6`) as the client at `place`. */
export async function labGet(state: LabState, place: string, host: string, path = '/', family: 4 | 6 = 4): Promise<LabAnswer> {
  const address = family === 4 ? state.plan.anycast.ipv4 : state.plan.anycast.ipv6;
  const { stdout } = await run('ip', ['netns', 'exec', resolvePlace(state.plan, place), process.execPath, '-e', GET, address, host, path], { timeout: 30_000 });
  return JSON.parse(stdout) as LabAnswer;
}

/** Runs `aloft ARGS` from a place in the lab, pointed at the lab's API; resolves with its output, rejects when it fails. */
export async function labAloft(state: LabState, place: string, args: readonly string[]): Promise<string> {
  if (state.platform === undefined) throw new Error('the lab runs no platform');
  const env = { ...process.env, ...(await labApiEnv(state.platform)), NO_COLOR: '1' };
  try {
    const { stdout } = await run('ip', ['netns', 'exec', resolvePlace(state.plan, place), process.execPath, ALOFT_BIN, ...args], { env, timeout: 120_000 });
    return stdout;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`aloft ${args.join(' ')} failed: ${e.stderr ?? ''}${e.stdout ?? ''}${e.message}`);
  }
}

/** One request of the retrying client: when it was first sent, how many tries it took, and who answered. */
export interface RetriedRequest {
  sentMs: number;
  doneMs: number;
  attempts: number;
  status: number;
  edge: string;
  body: string;
}

/**
 * A client that retries: for `durationMs` it sends a GET every `intervalMs` (one at a
 * time, each on a fresh connection, so a retry is routed anew), and a request that fails
 * (refused, reset, timed out after 1 s) is sent again until answered, as a client library
 * with retries would. Prints one JSON array at the end.
 */
const RETRYING_CLIENT = `
const http = require('node:http');
const [address, host, durationMs, intervalMs] = process.argv.slice(1);
const once = () => new Promise((resolve) => {
  const req = http.get({ host: address, port: 80, path: '/', headers: { host }, agent: false, timeout: 1000 }, (res) => {
    let body = '';
    res.setEncoding('utf8').on('data', (c) => (body += c)).on('end', () => {
      const id = String(res.headers['fly-request-id'] ?? '');
      resolve({ status: res.statusCode, edge: id.slice(id.lastIndexOf('-') + 1), body });
    });
    res.on('error', () => resolve(undefined));
  });
  req.on('timeout', () => req.destroy(new Error('timeout')));
  req.on('error', () => resolve(undefined));
});
(async () => {
  const out = [];
  const end = Date.now() + Number(durationMs);
  while (Date.now() < end) {
    const sentMs = Date.now();
    let attempts = 0, got;
    while (got === undefined || got.status >= 500) {
      attempts += 1;
      got = await once();
      if (got === undefined || got.status >= 500) await new Promise((r) => setTimeout(r, 10));
      if (Date.now() - sentMs > 10000) break;
    }
    out.push({ sentMs, doneMs: Date.now(), attempts, status: got?.status ?? 0, edge: got?.edge ?? '', body: got?.body ?? '' });
    await new Promise((r) => setTimeout(r, Number(intervalMs)));
  }
  console.log(JSON.stringify(out));
})();
`;

/** Starts the retrying client at `place`; resolves with its requests once it has run for `durationMs`. */
export async function retryingClient(state: LabState, place: string, host: string, durationMs: number, intervalMs = 25): Promise<RetriedRequest[]> {
  const { stdout } = await run('ip', ['netns', 'exec', resolvePlace(state.plan, place), process.execPath, '-e', RETRYING_CLIENT, state.plan.anycast.ipv4, host, String(durationMs), String(intervalMs)], {
    timeout: durationMs + 30_000,
    maxBuffer: 64 << 20,
  });
  return JSON.parse(stdout) as RetriedRequest[];
}
