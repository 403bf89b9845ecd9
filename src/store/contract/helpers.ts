import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isAloftError, type ErrorCode } from '../../lib/errors.ts';
import type { App } from '../../model/index.ts';
import type { Store } from '../store.ts';
import { sampleApp } from '../testing.ts';

/** Opens a fresh, empty store for one test. */
export type OpenStore = () => Promise<Store>;

/** Registers a test that gets a fresh store and always closes it. */
export function storeTest(open: OpenStore, name: string, fn: (store: Store) => Promise<void>): void {
  test(name, async () => {
    const store = await open();
    try {
      await fn(store);
    } finally {
      await store.close();
    }
  });
}

/** Asserts that `promise` rejects with an AloftError of `code` (and a message matching `message`). */
export async function rejectsWith(promise: Promise<unknown>, code: ErrorCode, message?: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(isAloftError(err), `expected an AloftError ${code}, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (message) assert.match(err.message, message);
    return true;
  });
}

/** Creates and returns a sample app. */
export async function givenApp(store: Store, overrides: Partial<App> = {}): Promise<App> {
  return store.createApp(sampleApp(overrides));
}
