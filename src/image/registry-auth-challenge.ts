/** One challenge of a `WWW-Authenticate` header: its scheme (lowercased) and parameters. */
export interface AuthChallenge {
  scheme: string;
  /** Parameter names lowercased; values unquoted. */
  params: Record<string, string>;
}

// token68 or auth-param list, RFC 9110 §11.6.1: `Bearer realm="…",service="…",scope="…"`.
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+/;

/**
 * Parses a `WWW-Authenticate` header into its challenges (a registry may offer several,
 * comma-separated, as in `Basic realm="x", Bearer realm="y",scope="z"`). Malformed
 * parts end the parse: what was read so far is returned, never an exception, since
 * the header comes from a server we do not control.
 */
export function parseChallenges(header: string | null | undefined): AuthChallenge[] {
  const out: AuthChallenge[] = [];
  let rest = (header ?? '').trim();
  let current: AuthChallenge | undefined;
  while (rest.length > 0) {
    const name = TOKEN.exec(rest)?.[0];
    if (name === undefined) break;
    const after = rest.slice(name.length).replace(/^[ \t]*/, '');
    if (after.startsWith('=') && current !== undefined) {
      // name=value: a parameter of the current challenge.
      const value = readValue(after.slice(1).replace(/^[ \t]*/, ''));
      if (value === undefined) break;
      current.params[name.toLowerCase()] = value.value;
      rest = value.rest;
    } else {
      current = { scheme: name.toLowerCase(), params: {} };
      out.push(current);
      rest = after;
    }
    rest = rest.replace(/^[ \t]*,?[ \t,]*/, '');
  }
  return out;
}

/** The Bearer challenge's realm, service and scope, if the header has one with a realm. */
export function bearerChallenge(header: string | null | undefined): { realm: string; service?: string; scope?: string } | undefined {
  const bearer = parseChallenges(header).find((c) => c.scheme === 'bearer' && c.params.realm !== undefined);
  if (bearer === undefined || bearer.params.realm === undefined) return undefined;
  const { realm, service, scope } = bearer.params;
  return { realm, ...(service === undefined ? {} : { service }), ...(scope === undefined ? {} : { scope }) };
}

function readValue(text: string): { value: string; rest: string } | undefined {
  if (!text.startsWith('"')) {
    const token = TOKEN.exec(text)?.[0];
    return token === undefined ? undefined : { value: token, rest: text.slice(token.length) };
  }
  let value = '';
  for (let i = 1; i < text.length; i++) {
    const ch = text[i];
    if (ch === '\\' && i + 1 < text.length) {
      value += text[++i];
    } else if (ch === '"') {
      return { value, rest: text.slice(i + 1) };
    } else {
      value += ch;
    }
  }
  return undefined;
}
