import type { MachineConfig } from '../model/index.ts';
import { checkSpecOf, type CheckConfig, type HealthCheckSpec } from './check-spec.ts';

/** One check the host runs for a Machine, under the name its status is reported by. */
export interface NamedCheck {
  name: string;
  spec: HealthCheckSpec;
  /** Set when the check cannot run (say, no port): it is reported critical with this. */
  invalid?: string;
}

/**
 * Every check of a Machine, as Fly's flyd runs them: the top-level `checks{}` under
 * their own names (sorted, so the order is stable), then each service's `checks[]`
 * (and `tcp_checks`/`http_checks`, the fly.toml names some clients send in the Machine
 * config) as `servicecheck-NN-<type>-<port>`, numbered across services.
 */
export function machineChecksOf(config: MachineConfig): NamedCheck[] {
  const out: NamedCheck[] = [];
  const firstPort = config.services?.[0]?.internal_port;
  for (const name of Object.keys(config.checks ?? {}).sort()) {
    const check = config.checks![name]!;
    const port = check.port ?? firstPort;
    const spec = checkSpecOf(check, port ?? 0);
    out.push(
      port === undefined
        ? { name, spec, invalid: `Cannot run check '${name}' as 'checks.${name}.port' must be a port number: got nothing` }
        : { name, spec },
    );
  }
  let n = 0;
  for (const service of config.services ?? []) {
    const raw = service as Record<string, unknown>;
    const checks: CheckConfig[] = [
      ...(service.checks ?? []),
      ...listOf(raw['tcp_checks']).map((c) => ({ ...c, type: 'tcp' as const })),
      ...listOf(raw['http_checks']).map((c) => ({ ...c, type: 'http' as const })),
    ];
    for (const check of checks) {
      const spec = checkSpecOf(check, service.internal_port);
      out.push({ name: `servicecheck-${String(n).padStart(2, '0')}-${spec.type}-${spec.port}`, spec });
      n += 1;
    }
  }
  return out;
}

function listOf(value: unknown): CheckConfig[] {
  return Array.isArray(value) ? value.filter((c): c is CheckConfig => typeof c === 'object' && c !== null) : [];
}
