/** Fly app names: lowercase letters, digits and dashes, starting with a letter or digit. */
const APP_LABEL = /^[a-z0-9][a-z0-9-]*$/;

/**
 * The app a Host header names under `domain`: `<app>.<domain>`, optionally with a
 * `:port` and a trailing dot, case-insensitive. Undefined when the host is not one
 * label directly under the domain (or is missing).
 */
export function appFromHost(host: string | undefined, domain: string): string | undefined {
  if (host === undefined || host === '') return undefined;
  let name = host.toLowerCase();
  // IPv6 literals ("[::1]:8080") never name an app; a colon otherwise starts the port.
  if (name.startsWith('[')) return undefined;
  const colon = name.lastIndexOf(':');
  if (colon !== -1) name = name.slice(0, colon);
  if (name.endsWith('.')) name = name.slice(0, -1);
  const suffix = domainSuffix(domain);
  if (!name.endsWith(suffix)) return undefined;
  const app = name.slice(0, -suffix.length);
  return APP_LABEL.test(app) ? app : undefined;
}

/** `.<domain>` in lowercase, remembered for the last domain asked (one per proxy): no string made per request. */
function domainSuffix(domain: string): string {
  if (domain !== lastDomain) {
    lastDomain = domain;
    lastSuffix = `.${domain.toLowerCase()}`;
  }
  return lastSuffix;
}
let lastDomain = '';
let lastSuffix = '.';

/**
 * The Host a request is for: the authority of an absolute-form target
 * (`GET http://a.localhost/ HTTP/1.1`, which RFC 7230 §5.4 says wins), else the Host
 * header. Also returns the origin-form path to forward.
 */
export function requestTarget(url: string, hostHeader: string | undefined): { host: string | undefined; path: string } {
  if (url.startsWith('/') || url === '*') return { host: hostHeader, path: url };
  try {
    const parsed = new URL(url);
    return { host: parsed.host, path: `${parsed.pathname}${parsed.search}` };
  } catch {
    return { host: hostHeader, path: url };
  }
}
