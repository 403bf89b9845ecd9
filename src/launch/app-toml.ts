import type { DetectedProject } from './detect.ts';

/** What the launched app is called and where it runs. */
export interface LaunchTarget {
  app: string;
  primaryRegion: string;
}

/**
 * The aloft.toml `aloft launch` writes (fly.toml under another name, as flyctl's
 * launch writes it): the app and region, [build] (the Dockerfile, or none for a Node
 * app, which the builder finds by its package.json), [env] when the app needs PORT,
 * and [http_service] on the detected port. Machines stop when idle and start on the
 * next request, as on Fly; HTTPS is not forced because the local platform's TLS port
 * has self-signed certificates.
 */
export function launchToml(project: DetectedProject, target: LaunchTarget): string {
  const lines = [
    `# aloft.toml for ${target.app}, written by \`aloft launch\`: a ${describe(project)}.`,
    '# It is fly.toml under another name; `aloft config validate` checks it.',
    '',
    `app = ${str(target.app)}`,
    `primary_region = ${str(target.primaryRegion)}`,
    '',
    '[build]',
  ];
  if (project.dockerfile !== undefined) lines.push(`  dockerfile = ${str(project.dockerfile)}`);
  else lines.push('  # No Dockerfile: the package.json is built as a Node app.');
  if (Object.keys(project.env).length > 0) {
    lines.push('', '[env]', ...Object.entries(project.env).map(([k, v]) => `  ${k} = ${str(v)}`));
  }
  lines.push(
    '',
    '[http_service]',
    `  internal_port = ${project.internalPort}`,
    '  force_https = false',
    '  auto_stop_machines = "stop"',
    '  auto_start_machines = true',
    '  min_machines_running = 0',
    '',
  );
  return lines.join('\n');
}

function describe(project: DetectedProject): string {
  if (project.kind === 'dockerfile') return `Dockerfile app (${project.source})`;
  if (project.kind === 'node') return 'Node app (package.json)';
  return `static site (${project.source}) served by the Dockerfile launch wrote`;
}

/** A TOML basic string: JSON's escaping is valid TOML for the names and paths written here. */
function str(value: string): string {
  return JSON.stringify(value);
}
