import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { test } from 'node:test';
import { compose, type Step } from './compose.ts';
import { createContext } from './context.ts';

const ctx = () =>
  createContext({ url: '/', headers: { host: 'a.localhost' } } as IncomingMessage, {} as ServerResponse, 'id', 'local');

test('steps run in order around next(), like an onion', async () => {
  const seen: string[] = [];
  const step = (name: string): Step => async (_ctx, next) => {
    seen.push(`${name}>`);
    await next();
    seen.push(`<${name}`);
  };
  await compose([step('a'), step('b')])(ctx());
  assert.deepEqual(seen, ['a>', 'b>', '<b', '<a']);
});

test('a step that answers itself stops the chain; next() twice is an error', async () => {
  let reached = false;
  await compose([async () => {}, async () => void (reached = true)])(ctx());
  assert.equal(reached, false);
  await assert.rejects(compose([async (_c, next) => { await next(); await next(); }])(ctx()), /twice/);
});
