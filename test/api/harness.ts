/**
 * An in-process Machines API for tests: SQLite ':memory:' store, an image resolver that
 * knows only "ok-image", one host. `call` answers status, headers and the parsed body;
 * `settle` plays the agent, moving a Machine from an intent to its resting state.
 */
import type { Hono } from 'hono';
import { machineEvent } from '../../src/model/index.ts';
import type { Scheduler } from '../../src/scheduler/index.ts';
import { openSqliteStore, type Store } from '../../src/store/index.ts';
import { createApiApp, type ApiDeps } from '../../src/api/server.ts';

export const TOKEN = 'test-token';

import { fakeImages } from '../../src/api/testing/fake-images.ts';
import { singleHostScheduler } from '../../src/scheduler/testing.ts';

export { fakeImages };

export const oneHost = (): Scheduler => singleHostScheduler();

export interface Answer {
  status: number;
  headers: Headers;
  text: string;
  body: unknown;
}

export interface Harness {
  store: Store;
  app: Hono;
  /** `path` is under /v1. A string body is sent as is; anything else as JSON. */
  call(method: string, path: string, body?: unknown, token?: string | null, headers?: Record<string, string>): Promise<Answer>;
  settle(id: string, from: 'starting' | 'stopping' | 'destroying', to: 'started' | 'stopped' | 'destroyed'): Promise<void>;
  close(): Promise<void>;
}

export async function openHarness(options: Partial<Omit<ApiDeps, 'store' | 'images' | 'scheduler' | 'token'>> = {}): Promise<Harness> {
  const store = await openSqliteStore({ path: ':memory:' });
  const app = createApiApp({ store, images: fakeImages, scheduler: oneHost(), token: TOKEN, ...options });
  return {
    store,
    app,
    async call(method, path, body, token = TOKEN, headers = {}) {
      const response = await app.request(`/v1${path}`, {
        method,
        headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), 'content-type': 'application/json', ...headers },
        ...(body === undefined ? {} : { body: typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body) }),
      });
      const text = await response.text();
      let parsed: unknown;
      try {
        parsed = text ? (JSON.parse(text) as unknown) : undefined;
      } catch {
        parsed = Symbol.for('not-json');
      }
      return { status: response.status, headers: response.headers, text, body: parsed };
    },
    async settle(id, from, to) {
      await store.updateMachine(id, { patch: { state: to }, expectState: [from], events: [machineEvent(from, to, 'flyd')] });
    },
    close: () => store.close(),
  };
}

/** The fields of an answer's JSON object body (empty when it is not one). */
export function fields(answer: Answer): Record<string, unknown> {
  return answer.body !== null && typeof answer.body === 'object' ? (answer.body as Record<string, unknown>) : {};
}
