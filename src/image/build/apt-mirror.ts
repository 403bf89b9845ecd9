import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Where Debian packages come from when apt names no mirror for the suite. */
export const DEFAULT_DEBIAN_MIRROR = 'http://deb.debian.org/debian';

/**
 * The Debian mirror apt on this host uses for `suite`: the first `deb` source (one-line
 * `sources.list` style or deb822 `.sources`) whose suites include it, skipping
 * security and non-Debian archives. Falls back to deb.debian.org.
 */
export async function aptMirror(suite: string, aptDir = '/etc/apt'): Promise<string> {
  const files = [join(aptDir, 'sources.list')];
  const dir = join(aptDir, 'sources.list.d');
  for (const name of (await readdir(dir).catch(() => [])).sort()) {
    if (name.endsWith('.list') || name.endsWith('.sources')) files.push(join(dir, name));
  }
  for (const file of files) {
    const text = await readFile(file, 'utf8').catch(() => '');
    for (const source of file.endsWith('.sources') ? deb822Sources(text) : oneLineSources(text)) {
      if (source.suites.includes(suite) && /\/debian\/?$/.test(source.uri)) return source.uri.replace(/\/+$/, '');
    }
  }
  return DEFAULT_DEBIAN_MIRROR;
}

interface Source {
  uri: string;
  suites: string[];
}

function oneLineSources(text: string): Source[] {
  const out: Source[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    // deb [options] uri suite components...
    const match = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)/.exec(line);
    if (match?.[1] && match[2]) out.push({ uri: match[1], suites: [match[2]] });
  }
  return out;
}

function deb822Sources(text: string): Source[] {
  const out: Source[] = [];
  for (const stanza of text.split(/\n\s*\n/)) {
    const fields = new Map<string, string>();
    for (const line of stanza.split('\n')) {
      const match = /^([A-Za-z-]+):\s*(.*)$/.exec(line);
      if (match?.[1] && match[2] !== undefined) fields.set(match[1].toLowerCase(), match[2].trim());
    }
    if (!(fields.get('types') ?? '').split(/\s+/).includes('deb') || /^no$/i.test(fields.get('enabled') ?? 'yes')) continue;
    const suites = (fields.get('suites') ?? '').split(/\s+/);
    for (const uri of (fields.get('uris') ?? '').split(/\s+/)) if (uri !== '') out.push({ uri, suites });
  }
  return out;
}
