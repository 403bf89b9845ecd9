import type { z } from 'zod';
import { AloftError, formatValue } from '../lib/errors.ts';
import { appConfigSchema, type RawAppConfig } from './schema.ts';
import { lineOf, pathText, readToml, type TomlSource } from './toml-source.ts';
import { unknownKeys, type ConfigWarning } from './unknown-keys.ts';

export type { ConfigWarning } from './unknown-keys.ts';

/**
 * An app config, normalised: durations in ms, memory in MB, volume sizes in GB, ports
 * as numbers, `auto_stop_machines` as "off"/"stop"/"suspend", every table that may be
 * written once or many times (`[[vm]]`, `[mounts]`, `[[metrics]]`…) as a list, and the
 * old `[mount]` folded into `mounts` and `[[compute]]` into `vm`.
 */
export type AppConfig = Omit<RawAppConfig, 'mount' | 'compute'>;

/** What parsing gives: the config and every warning (unknown keys, ignored v1 features). */
export interface ParsedAppConfig {
  config: AppConfig;
  warnings: ConfigWarning[];
}

/**
 * Reads fly.toml / aloft.toml text. Unknown keys are warnings (file, line, "did you
 * mean"); a TOML syntax error or a value that breaks its rule is CONFIG_INVALID naming
 * the file, line, key path, value and rule.
 */
export function parseAppConfig(source: string, file: string): ParsedAppConfig {
  return parseAppConfigSources([readToml(source, file)]);
}

/**
 * Reads one config made of several files, later ones over earlier ones (see
 * load.ts): tables merge key by key, any other value (lists included) is replaced.
 */
export function parseAppConfigSources(sources: readonly TomlSource[]): ParsedAppConfig {
  const warnings = sources.flatMap((s) => unknownKeys(s, appConfigSchema));
  const raw = sources.reduce<Record<string, unknown>>((merged, s) => mergeTables(merged, s.raw), {});
  const parsed = appConfigSchema.safeParse(raw);
  if (!parsed.success) throw configError(sources, raw, parsed.error.issues[0]!);
  const { mount, compute, ...rest } = parsed.data;
  const config: AppConfig = { ...rest };
  if (mount) config.mounts = [...(rest.mounts ?? []), ...mount];
  if (compute) config.vm = [...(rest.vm ?? []), ...compute];
  // A warning names the last file that wrote the key (the base when no overlay did).
  const fileOf = (path: string): TomlSource =>
    [...sources].reverse().find((s) => s.lines.has(path) || s.lines.has(path.replace(/\[0\]/g, ''))) ?? sources[0]!;
  warnings.push(...semanticWarnings(config, (path) => ({ file: fileOf(path).file, line: lineOf(fileOf(path).lines, path) })));
  return { config, warnings };
}

function configError(sources: readonly TomlSource[], raw: unknown, issue: z.core.$ZodIssue): AloftError {
  const path = pathText(issue.path);
  // The file that set the value is the last one that has it.
  const from = [...sources].reverse().find((s) => valueAt(s.raw, issue.path) !== undefined) ?? sources[sources.length - 1]!;
  const line = lineOf(from.lines, path);
  const value = valueAt(raw, issue.path);
  const rule = issue.code === 'invalid_type' ? typeRule(String((issue as { expected?: unknown }).expected)) : issue.message;
  return new AloftError('CONFIG_INVALID', `Cannot read ${from.file} as '${path}' (line ${line}) must be ${rule}: got ${formatValue(value)}`, {
    details: { file: from.file, line, path, rule },
  });
}

/** zod's type names in TOML's words. */
function typeRule(expected: string): string {
  if (expected === 'record' || expected === 'object') return 'a table';
  if (expected === 'array') return 'a list or an array of tables';
  return `a ${expected}`;
}

/** The raw value at a zod path; index 0 of a table written once is the table itself. */
function valueAt(raw: unknown, path: readonly PropertyKey[]): unknown {
  let current = raw;
  for (const segment of path) {
    if (typeof segment === 'number' && !Array.isArray(current)) {
      if (segment !== 0) return undefined;
      continue;
    }
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<PropertyKey, unknown>)[segment];
  }
  return current;
}

function mergeTables(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const prev = out[key];
    out[key] = isTable(prev) && isTable(value) ? mergeTables(prev, value) : value;
  }
  return out;
}

/**
 * Two services that take the same public port for the same process group: the edge
 * can route a port to only one of them (djangocon's file has http_service and a v1
 * [[services]] both on 80 and 443).
 */
function portClashes(config: AppConfig, warn: (path: string, text: string) => void): void {
  const taken: { path: string; key: string; processes: readonly string[] | undefined }[] = [];
  if (config.http_service) {
    for (const port of [80, 443]) taken.push({ path: 'http_service', key: `tcp/${port}`, processes: config.http_service.processes });
  }
  config.services?.forEach((service, i) => {
    for (const p of service.ports ?? []) {
      if (p.port !== undefined) taken.push({ path: `services[${i}]`, key: `${service.protocol ?? 'tcp'}/${p.port}`, processes: service.processes });
    }
  });
  const overlap = (a: readonly string[] | undefined, b: readonly string[] | undefined): boolean =>
    !a || !b || a.length === 0 || b.length === 0 || a.some((g) => b.includes(g));
  const said = new Set<string>();
  taken.forEach((t, i) => {
    const first = taken.slice(0, i).find((o) => o.key === t.key && o.path !== t.path && overlap(o.processes, t.processes));
    if (first && !said.has(`${t.path} ${t.key}`)) {
      said.add(`${t.path} ${t.key}`);
      warn(t.path, `takes public port ${t.key} that '${first.path}' already takes for the same process group; keep one of them`);
    }
  });
}

function isTable(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Date);
}

/** Values that parse but that a Machine will not act on as the file expects. */
function semanticWarnings(config: AppConfig, at: (path: string) => { file: string; line: number }): ConfigWarning[] {
  const out: ConfigWarning[] = [];
  const warn = (path: string, text: string): void => {
    const { file, line } = at(path);
    out.push({ file, line, path, message: `${file}:${line}: '${path}' ${text}` });
  };
  for (const [name, check] of Object.entries(config.checks ?? {})) {
    if (check.type === 'script') warn(`checks.${name}`, 'is a script check, which Machines do not run; it is ignored');
  }
  config.services?.forEach((service, i) => {
    if ((service.script_checks ?? []).length > 0) warn(`services[${i}].script_checks`, 'are v1 script checks, which Machines do not run; they are ignored');
  });
  for (const name of Object.keys(config.env ?? {})) {
    if (name.startsWith('FLY_')) warn(`env.${name}`, 'starts with FLY_, a prefix the platform reserves; the platform may set it over yours');
  }
  config.vm?.forEach((vm, i) => {
    if (vm.memory !== undefined && vm.memory_mb !== undefined && vm.memory !== vm.memory_mb) {
      warn(`vm[${i}].memory_mb`, `(${vm.memory_mb}) and 'memory' (${vm.memory} MB) disagree; memory_mb wins`);
    }
  });
  portClashes(config, warn);
  unknownGroups(config, warn);
  return out;
}

/** A `processes = [...]` filter that names a group [processes] does not define matches no Machine. */
function unknownGroups(config: AppConfig, warn: (path: string, text: string) => void): void {
  const groups = Object.keys(config.processes ?? {});
  const defined = groups.length > 0 ? groups : ['app'];
  const check = (path: string, processes: readonly string[] | undefined): void => {
    for (const name of processes ?? []) {
      if (!defined.includes(name)) warn(`${path}.processes`, `names process group '${name}', which is not one of ${defined.map((g) => `'${g}'`).join(', ')}; it applies to no Machine of that name`);
    }
  };
  check('http_service', config.http_service?.processes);
  const lists = { services: config.services, vm: config.vm, mounts: config.mounts, metrics: config.metrics, restart: config.restart, files: config.files } as const;
  for (const [key, list] of Object.entries(lists)) list?.forEach((entry, i) => check(`${key}[${i}]`, entry.processes));
  for (const [name, c] of Object.entries(config.checks ?? {})) check(`checks.${name}`, c.processes);
}
