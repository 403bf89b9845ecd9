import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { get, type Agent } from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import type { Driver, RunSpec } from './driver.ts';
import type { SpecFixture, SpecInput } from './contract.ts';

/** How long a contract case may poll for something that should take well under a second. */
export const EVENTUALLY_MS = 15_000;

/** What a group of contract cases gets from the suite that runs it. */
export interface ContractContext {
  driver: Driver;
  makeDriver: () => Driver;
  fixture: () => SpecFixture;
  newId: () => string;
  /** Builds a spec and starts it (tracked for clean-up). */
  start: (input: Omit<SpecInput, 'machineId'>) => Promise<RunSpec>;
  /** Tracks an id for the suite's final clean-up. */
  track: (id: string) => void;
}

/** Polls a Machine's log until a line matches; returns that line. Bounded by EVENTUALLY_MS. */
export async function eventuallyInLog(logPath: string, pattern: RegExp): Promise<string> {
  const deadline = Date.now() + EVENTUALLY_MS;
  for (;;) {
    const text = await readFile(logPath, 'utf8').catch(() => '');
    const line = text.split('\n').find((l) => pattern.test(l));
    if (line !== undefined) return line;
    if (Date.now() > deadline) assert.fail(`no line matching ${pattern} in ${logPath} within ${EVENTUALLY_MS} ms; log: ${text.slice(-500)}`);
    await delay(20);
  }
}

/** GETs a URL until it answers 200 (the server may still be binding). Bounded by EVENTUALLY_MS. */
export async function eventuallyGet(url: string, agent?: Agent): Promise<string> {
  const deadline = Date.now() + EVENTUALLY_MS;
  for (;;) {
    try {
      return await getOnce(url, agent);
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await delay(20);
    }
  }
}

export function getOnce(url: string, agent?: Agent): Promise<string> {
  return new Promise((resolve, reject) => {
    const request = get(url, { timeout: 2000, ...(agent ? { agent } : {}) }, (response) => {
      let body = '';
      response.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      response.on('end', () => (response.statusCode === 200 ? resolve(body) : reject(new Error(`${url}: HTTP ${response.statusCode}`))));
    });
    request.on('timeout', () => request.destroy(new Error(`${url}: timed out`)));
    request.on('error', reject);
  });
}

/** Polls until `check` answers true; fails with `what` after `ms`. */
export async function eventually(what: string, check: () => Promise<boolean>, ms = EVENTUALLY_MS): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`${what}: not within ${ms} ms`);
    await delay(20);
  }
}
