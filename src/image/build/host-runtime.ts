import { lstat, open, readlink, realpath } from 'node:fs/promises';
import { posix } from 'node:path';
import { execCommand, type CommandRunner } from '../../lib/command.ts';
import { AloftError } from '../../lib/errors.ts';
import type { LayerEntry } from './reproducible-tar.ts';

/** Where the runtime layer puts the Node binary: on the image's PATH, as the official images do. */
export const NODE_PATH = '/usr/local/bin/node';

/** The uid and gid of the image's unprivileged `node` user. */
export const NODE_UID = 1000;

/** The system CA bundle Debian and Ubuntu keep; copied when the host has it. */
const CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';

/** Symlinks followed while reproducing one host path (Linux's own limit). */
const MAX_LINKS = 40;

/**
 * The runtime layer, taken from this host: the `node` binary at /usr/local/bin/node,
 * every shared library `ldd` says it loads and the dynamic loader, each at its real
 * path with the symlinks that lead there (so /lib64/ld-linux-x86-64.so.2 resolves on a
 * usr-merged host as it does here), and what a Node process expects of a root: a
 * passwd and group with root and `node` (1000:1000), /home/node, /root, /tmp (1777),
 * an nsswitch.conf that reads files then DNS, and the host's CA bundle if it has one.
 * /etc/hosts is not here: the platform writes it into each Machine's root.
 */
export async function hostRuntimeEntries(nodeBinary: string, run: CommandRunner = execCommand): Promise<LayerEntry[]> {
  const binary = await realpath(nodeBinary).catch((err: NodeJS.ErrnoException) => {
    throw new AloftError('INVALID_ARGUMENT', `Cannot build a Node app image as 'nodeBinary' must be an existing file: got ${JSON.stringify(nodeBinary)} (${err.code ?? err.message})`, { cause: err });
  });
  await assertElf(binary, nodeBinary);
  const stat = await lstat(binary);
  const entries = new Map<string, LayerEntry>();
  entries.set(NODE_PATH, { path: NODE_PATH, type: 'file', mode: 0o755, sourcePath: binary, size: stat.size });
  for (const lib of await sharedLibraries(binary, run)) await addHostPath(lib, entries);
  if ((await lstat(CA_BUNDLE).catch(() => undefined)) !== undefined) await addHostPath(CA_BUNDLE, entries);
  const text = (path: string, content: string): LayerEntry => ({ path, type: 'file', mode: 0o644, content: Buffer.from(content) });
  for (const entry of [
    text('/etc/passwd', `root:x:0:0:root:/root:/sbin/nologin\nnode:x:${NODE_UID}:${NODE_UID}:node:/home/node:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n`),
    text('/etc/group', `root:x:0:\nnode:x:${NODE_UID}:\nnogroup:x:65534:\n`),
    text('/etc/nsswitch.conf', 'passwd: files\ngroup: files\nhosts: files dns\n'),
    { path: '/tmp', type: 'dir', mode: 0o1777 } as const,
    { path: '/root', type: 'dir', mode: 0o700 } as const,
    { path: '/home/node', type: 'dir', mode: 0o755, uid: NODE_UID, gid: NODE_UID } as const,
  ]) {
    entries.set(entry.path, entry);
  }
  return [...entries.values()];
}

/**
 * The libraries `ldd` lists for `binary`, loader included, as absolute host paths. A
 * static binary has none. A library ldd cannot find is an error: the image would fail
 * with "not found" only when a Machine starts.
 */
export async function sharedLibraries(binary: string, run: CommandRunner = execCommand): Promise<string[]> {
  const result = await run('ldd', [binary], { timeoutMs: 30_000, errorCode: 'BUILD_TOOL_MISSING' });
  const output = `${result.stdout}\n${result.stderr}`;
  if (/not a dynamic executable|statically linked/.test(output)) return [];
  if (result.code !== 0) {
    throw new AloftError('BUILD_FAILED', `Cannot build a Node app image as \`ldd ${binary}\` must succeed: got exit ${result.code}: ${output.trim().slice(0, 300)}`);
  }
  return parseLdd(result.stdout, binary);
}

/**
 * Parses ldd's lines: "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x…)", the loader's
 * "/lib64/ld-linux-x86-64.so.2 (0x…)", and the kernel's vDSO (no file; skipped).
 */
export function parseLdd(stdout: string, binary: string): string[] {
  const paths: string[] = [];
  for (const raw of stdout.split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    const missing = /^(\S+) => not found$/.exec(line);
    if (missing) {
      throw new AloftError('BUILD_FAILED', `Cannot build a Node app image as '${binary}' must find all its shared libraries: got ${missing[1] ?? line} not found`);
    }
    const mapped = /=>\s+(\/\S+)\s+\(0x[0-9a-f]+\)$/.exec(line) ?? /^(\/\S+)\s+\(0x[0-9a-f]+\)$/.exec(line);
    if (mapped?.[1] !== undefined && !paths.includes(mapped[1])) paths.push(mapped[1]);
  }
  return paths;
}

/**
 * Adds the host file at `path` to `entries` at its real path, and every symlink met on
 * the way there (e.g. /lib64 -> usr/lib64, then usr/lib64/ld-linux-x86-64.so.2 ->
 * /lib/x86_64-linux-gnu/…, then /lib -> usr/lib) as the same symlink in the image.
 */
export async function addHostPath(path: string, entries: Map<string, LayerEntry>, links = 0): Promise<void> {
  if (links > MAX_LINKS) throw new AloftError('BUILD_FAILED', `Cannot build a Node app image as '${path}' must resolve within ${MAX_LINKS} symlinks: got more`);
  const parts = path.split('/').filter((p) => p !== '' && p !== '.');
  let current = '/';
  for (const [i, part] of parts.entries()) {
    const here = posix.join(current, part);
    const stat = await lstat(here).catch((err: NodeJS.ErrnoException) => {
      throw new AloftError('BUILD_FAILED', `Cannot build a Node app image as host file '${here}' must exist: got ${err.code ?? err.message}`, { cause: err });
    });
    const rest = parts.slice(i + 1).join('/');
    if (stat.isSymbolicLink()) {
      const target = await readlink(here);
      entries.set(here, { path: here, type: 'symlink', mode: 0o777, linkTarget: target });
      return addHostPath(posix.resolve(current, target, rest), entries, links + 1);
    }
    if (rest === '') {
      if (!stat.isFile()) throw new AloftError('BUILD_FAILED', `Cannot build a Node app image as host file '${here}' must be a regular file: got something else`);
      entries.set(here, { path: here, type: 'file', mode: (stat.mode & 0o111) === 0 ? 0o644 : 0o755, sourcePath: here, size: stat.size });
      return;
    }
    current = here;
  }
}

async function assertElf(path: string, given: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    const head = Buffer.alloc(4);
    await handle.read(head, 0, 4, 0);
    if (head.readUInt32BE(0) !== 0x7f454c46) {
      throw new AloftError('INVALID_ARGUMENT', `Cannot build a Node app image as 'nodeBinary' must be an ELF executable: got ${JSON.stringify(given)}`);
    }
  } finally {
    await handle.close();
  }
}
