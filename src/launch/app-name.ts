import { basename } from 'node:path';
import { invalidField } from '../lib/errors.ts';

/** The API's rule for app names (src/api/routes/apps.ts). */
const APP_NAME = /^[a-z0-9][a-z0-9-]{1,62}$/;
const RULE = 'lowercase letters, digits and dashes, 2 to 63 long, not starting with a dash';

/**
 * The app name: `--name` as given (checked against the API's rule), else the directory's
 * name made into one ("My Site_2" → "my-site-2").
 */
export function launchAppName(dir: string, name: string | undefined): string {
  if (name !== undefined) {
    if (!APP_NAME.test(name)) throw invalidField('launch', '--name', RULE, name);
    return name;
  }
  const fromDir = basename(dir)
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/-+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 63)
    .replace(/-+$/, '');
  if (!APP_NAME.test(fromDir)) throw invalidField('launch', '--name', `given, as the directory's name does not make an app name (${RULE})`, basename(dir));
  return fromDir;
}
