import type { Clock } from '../lib/clock.ts';
import type { Store } from '../store/store.ts';
import { createApiApp } from './server.ts';
import { fakeImages as images } from './testing/fake-images.ts';
import { singleHostScheduler } from '../scheduler/testing.ts';

/** The operator's token in in-process API tests. */
export const OPERATOR_TOKEN = 'operator-token';


export interface Answer {
  status: number;
  body: Record<string, unknown> & { error?: string; code?: string };
}

/**
 * An in-process API over `store` (rate limits off, `clock` injected) and a `call`
 * that sends one request with a bearer token and extra headers and reads JSON back.
 */
export function testApi(store: Store, clock: Clock) {
  const app = createApiApp({
    store,
    images,
    scheduler: singleHostScheduler(),
    token: OPERATOR_TOKEN,
    rateLimits: false,
    clock,
  });
  const call = async (method: string, path: string, options: { body?: unknown; token?: string | null; headers?: Record<string, string> } = {}): Promise<Answer> => {
    const token = options.token === undefined ? OPERATOR_TOKEN : options.token;
    const response = await app.request(`/v1${path}`, {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), 'content-type': 'application/json', ...options.headers },
      ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
    });
    const text = await response.text();
    return { status: response.status, body: (text ? JSON.parse(text) : {}) as Answer['body'] };
  };
  return { app, call };
}
