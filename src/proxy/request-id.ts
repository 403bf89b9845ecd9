import { randomBytes } from 'node:crypto';

/**
 * Makes Fly-Request-Id values: `<random process prefix><sequence>-<region>`. Unique
 * without a random draw per request (that draw showed up in profiles): 40 random bits
 * tell edges and restarts apart, a counter tells requests apart.
 */
export function requestIds(region: string): () => string {
  const prefix = randomBytes(5).toString('hex');
  let sequence = 0;
  return () => {
    sequence += 1;
    return `${prefix}${sequence.toString(36).padStart(7, '0')}-${region}`;
  };
}
