import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { AloftError } from '../../lib/errors.ts';

/**
 * The absolute path of `binary` on PATH (plus the sbin dirs, where Debian puts
 * debootstrap), or BUILD_TOOL_MISSING naming the apt package that brings it.
 */
export function requireTool(binary: string, aptPackage: string, action: string, env: NodeJS.ProcessEnv = process.env): string {
  const dirs = [...(env['PATH'] ?? '').split(delimiter), '/usr/local/sbin', '/usr/sbin', '/sbin', '/usr/bin', '/bin'];
  for (const dir of dirs) {
    if (dir === '') continue;
    const path = join(dir, binary);
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // not in this dir
    }
  }
  throw new AloftError('BUILD_TOOL_MISSING', `Cannot ${action} as '${binary}' must be installed: run 'apt-get install -y ${aptPackage}' as root`, {
    details: { binary, aptPackage },
  });
}
