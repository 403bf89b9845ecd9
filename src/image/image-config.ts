import type { OciImageConfig } from './oci-schemas.ts';
import type { ImageConfig } from './types.ts';

/**
 * What aloft keeps of an image config. Exposed ports are TCP ones only ("8080/tcp" or a
 * bare "8080"): UDP services are declared in the app config instead, as on Fly.
 */
export function toImageConfig(config: OciImageConfig): ImageConfig {
  const c = config.config ?? {};
  const exposedPorts: number[] = [];
  for (const key of Object.keys(c.ExposedPorts ?? {})) {
    const match = /^(\d{1,5})(?:\/tcp)?$/i.exec(key);
    const port = match?.[1] === undefined ? NaN : Number(match[1]);
    if (port >= 1 && port <= 65535) exposedPorts.push(port);
  }
  return {
    entrypoint: c.Entrypoint ?? [],
    cmd: c.Cmd ?? [],
    env: c.Env ?? [],
    workingDir: c.WorkingDir ?? '',
    user: c.User ?? '',
    exposedPorts: exposedPorts.sort((a, b) => a - b),
  };
}
