import type { Context } from 'hono';
import { AloftError } from '../lib/errors.ts';
import { jsonDepth, MAX_JSON_DEPTH } from './json-depth.ts';

/** Reads the request body as JSON; an empty body reads as `undefined`. */
export async function readJson(c: Context): Promise<unknown> {
  const text = await c.req.text();
  if (text.trim() === '') return undefined;
  const depth = jsonDepth(text);
  if (depth > MAX_JSON_DEPTH) {
    throw new AloftError('INVALID_ARGUMENT', `Cannot read request body as JSON as it must nest at most ${MAX_JSON_DEPTH} levels deep: got ${depth}`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new AloftError('MALFORMED_JSON', `Cannot read request body as JSON: ${(err as Error).message}`);
  }
}
