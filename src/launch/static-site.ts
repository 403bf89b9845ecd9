import { stat } from 'node:fs/promises';
import { join } from 'node:path';

/** Directories a static site's index.html is looked for in, in order ('.' is the project itself). */
export const STATIC_ROOTS = ['.', 'public', 'dist', 'build', '_site', 'site', 'www'] as const;

/** The port the static-site image serves on. */
export const STATIC_PORT = 8080;

/** The first of STATIC_ROOTS under `dir` that holds an index.html, or undefined. */
export async function findStaticRoot(dir: string): Promise<string | undefined> {
  for (const root of STATIC_ROOTS) {
    if ((await stat(join(dir, root, 'index.html')).catch(() => undefined))?.isFile()) return root;
  }
  return undefined;
}

/**
 * The Dockerfile `aloft launch` writes for a static site: busybox httpd serving `root`.
 * `FROM busybox` is the aloft registry's library/busybox (`aloft images seed`). A shell
 * stays PID 1 to forward stop signals: busybox httpd installs no handler for them, so
 * as PID 1 it would ignore SIGTERM and every stop would wait out the kill timeout.
 */
export function staticSiteDockerfile(root: string): string {
  const source = root === '.' ? '.' : `${root}/`;
  return [
    '# Written by `aloft launch`: a static site served by busybox httpd.',
    '# FROM busybox is the aloft registry\'s library/busybox (seed it with `aloft images seed`).',
    'FROM busybox',
    `COPY ${source} /www/`,
    `EXPOSE ${STATIC_PORT}`,
    '# The shell stays PID 1 and forwards stop signals to httpd (which has no handler of its own).',
    `CMD ["sh", "-c", "httpd -f -v -p ${STATIC_PORT} -h /www & pid=$!; trap 'kill $pid; wait $pid; exit 0' TERM INT; wait $pid"]`,
    '',
  ].join('\n');
}
