/**
 * The port a Dockerfile's final stage EXPOSEs first (`EXPOSE 3000`, `EXPOSE 8080/tcp`),
 * or undefined when it exposes none or only through variables. Continuation lines and
 * comments are handled; instructions are case-insensitive, as Docker reads them.
 */
export function exposedPort(dockerfile: string): number | undefined {
  const logical = dockerfile
    .split('\n')
    .filter((line) => !line.trimStart().startsWith('#'))
    .join('\n')
    .replace(/\\\r?\n/g, ' ')
    .split('\n');
  let port: number | undefined;
  for (const line of logical) {
    const [instruction, ...args] = line.trim().split(/\s+/);
    const keyword = instruction?.toUpperCase();
    // Each FROM starts a stage; only the last one is the image that runs.
    if (keyword === 'FROM') port = undefined;
    if (keyword !== 'EXPOSE' || port !== undefined) continue;
    for (const arg of args) {
      const match = /^(\d{1,5})(?:\/(?:tcp|udp))?$/i.exec(arg);
      const n = match ? Number(match[1]) : NaN;
      if (n >= 1 && n <= 65535) {
        port = n;
        break;
      }
    }
  }
  return port;
}
