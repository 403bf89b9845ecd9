import type { Context } from 'hono';
import { AloftError } from '../lib/errors.ts';

/** Reads the request body as JSON; an empty body reads as `undefined`. */
export async function readJson(c: Context): Promise<unknown> {
  const text = await c.req.text();
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new AloftError('MALFORMED_JSON', `Cannot read request body as JSON: ${(err as Error).message}`);
  }
}
