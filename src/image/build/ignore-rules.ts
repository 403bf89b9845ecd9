/** One line of an ignore file, compiled. */
interface Rule {
  negate: boolean;
  pattern: RegExp;
}

/**
 * The paths an app build leaves out, from a `.dockerignore`-style file, with Docker's
 * meaning: each line is a pattern matched against the whole path relative to the app
 * directory (not a bare name anywhere, as .gitignore would); `*` and `?` stay within one
 * path segment, `**` spans any number of them; a leading `/` and a trailing `/` are
 * dropped; `#` starts a comment; `!` re-includes; the last matching line wins; a
 * pattern that matches a directory leaves out everything below it.
 */
export class IgnoreRules {
  private readonly rules: Rule[];

  constructor(text: string) {
    this.rules = text
      .split(/\r?\n/)
      .map((line) => line.trim())
      .filter((line) => line !== '' && !line.startsWith('#'))
      .map((line) => {
        const negate = line.startsWith('!');
        const body = (negate ? line.slice(1) : line).trim().replace(/^\/+/, '').replace(/\/+$/, '');
        return { negate, pattern: globToRegExp(posixClean(body)) };
      })
      .filter((rule) => rule.pattern.source !== '^$');
  }

  /** True when some line re-includes: a left-out directory must still be walked. */
  get hasExceptions(): boolean {
    return this.rules.some((r) => r.negate);
  }

  /** Whether `path` (relative, "/"-separated) is left out. */
  ignores(path: string): boolean {
    const parents: string[] = [];
    const parts = path.split('/');
    for (let i = 1; i <= parts.length; i++) parents.push(parts.slice(0, i).join('/'));
    let ignored = false;
    for (const rule of this.rules) {
      if (parents.some((p) => rule.pattern.test(p))) ignored = !rule.negate;
    }
    return ignored;
  }
}

/** Collapses "a/./b" and "a//b"; ".." stays (it matches nothing inside the app). */
function posixClean(path: string): string {
  return path
    .split('/')
    .filter((p) => p !== '' && p !== '.')
    .join('/');
}

function globToRegExp(glob: string): RegExp {
  let out = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] as string;
    if (c === '*' && glob[i + 1] === '*') {
      // "**/" may match no directory at all; "**" at the end matches anything.
      if (glob[i + 2] === '/') {
        out += '(?:.*/)?';
        i += 2;
      } else {
        out += '.*';
        i += 1;
      }
    } else if (c === '*') {
      out += '[^/]*';
    } else if (c === '?') {
      out += '[^/]';
    } else if (c === '[') {
      const end = glob.indexOf(']', i + 1);
      if (end === -1) {
        out += '\\[';
      } else {
        const inner = glob.slice(i + 1, end).replace(/^!/, '^').replace(/\\/g, '\\\\');
        out += `[${inner}]`;
        i = end;
      }
    } else if (c === '\\' && i + 1 < glob.length) {
      out += escapeRegExp(glob[i + 1] as string);
      i += 1;
    } else {
      out += escapeRegExp(c);
    }
  }
  return new RegExp(`^${out}$`);
}

function escapeRegExp(c: string): string {
  return /[.*+?^${}()|[\]\\/]/.test(c) ? `\\${c}` : c;
}
