import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import { AloftError, formatValue } from '../lib/errors.ts';
import { parseAppConfigSources, type ParsedAppConfig } from './app-config.ts';
import { readToml } from './toml-source.ts';

/** The config file names looked for in a directory, in order. */
export const CONFIG_FILE_NAMES = ['aloft.toml', 'fly.toml'] as const;

export interface LoadOptions {
  /**
   * An environment name: the sibling file `<base>.<environment>.toml` (fly.toml +
   * "staging" → fly.staging.toml) is read over the base file. It must exist.
   */
  environment?: string;
}

export interface LoadedAppConfig extends ParsedAppConfig {
  /** The files read, base first. */
  files: string[];
}

/**
 * Finds the config file of a directory: aloft.toml, else fly.toml. Throws
 * CONFIG_INVALID when neither is there.
 */
export function findConfigFile(dir: string): string {
  for (const name of CONFIG_FILE_NAMES) {
    const path = join(dir, name);
    if (existsSync(path)) return path;
  }
  throw new AloftError('CONFIG_INVALID', `Cannot find an app config as '${dir}' must hold aloft.toml or fly.toml (or pass --config FILE): got neither`);
}

/** The environment file beside a base config: fly.toml + "staging" → fly.staging.toml. */
export function environmentFile(path: string, environment: string): string {
  const ext = extname(path) || '.toml';
  return join(dirname(path), `${basename(path, extname(path))}.${environment}${ext}`);
}

/**
 * Reads an app config file (any name: `--config fly.production.toml` works) and, with
 * `environment`, its environment file merged over it: tables merge key by key, other
 * values (lists included) are replaced. See README.md for why a sibling file and not
 * an `[env.<name>]` table (fly.toml's [env] already means environment variables).
 */
export function loadAppConfig(path: string, options: LoadOptions = {}): LoadedAppConfig {
  const files = [path];
  if (options.environment !== undefined) {
    if (!/^[a-z0-9][a-z0-9_-]*$/i.test(options.environment)) {
      throw new AloftError('CONFIG_INVALID', `Cannot read the app config as 'environment' must be a name of letters, digits, '-' and '_': got ${formatValue(options.environment)}`);
    }
    files.push(environmentFile(path, options.environment));
  }
  const sources = files.map((file) => readToml(readConfigFile(file), file));
  return { ...parseAppConfigSources(sources), files };
}

function readConfigFile(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'an existing file' : 'a readable file';
    throw new AloftError('CONFIG_INVALID', `Cannot read the app config as '${file}' must be ${why}: got ${(err as Error).message}`, { cause: err });
  }
}
