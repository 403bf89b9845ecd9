import { readFile } from 'node:fs/promises';
import { invalidField } from '../../lib/errors.ts';
import { validateRttTable, type RegionRttTable } from './region-rtt.ts';

/**
 * Reads a region RTT table from a JSON file (`{"ams": {"iad": 80}}`), as `--rtt` of
 * `aloft api` and `aloft proxy` give it; `action` names what the error stops.
 */
export async function readRttFile(path: string, action: string): Promise<RegionRttTable> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw invalidField(action, 'rtt', 'a readable JSON file', `${path} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  try {
    return validateRttTable(JSON.parse(text));
  } catch (err) {
    if (err instanceof SyntaxError) throw invalidField(action, 'rtt', 'a JSON file such as {"ams": {"iad": 80}}', path);
    throw err;
  }
}
