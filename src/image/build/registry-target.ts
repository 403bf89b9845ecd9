import { invalidField } from '../../lib/errors.ts';

/** The aloft registry a build pulls bases from and pushes to, and the token it accepts. */
export interface RegistryTarget {
  /** Base URL, e.g. http://127.0.0.1:5000 (the one `aloft up` serves). */
  url: string;
  /** An API token: the operator's, or an org token for `<org>/…` repositories. */
  token: string;
}

/** "127.0.0.1:5000": the host[:port] image references use for the registry. */
export function registryHost(target: RegistryTarget): string {
  let url: URL;
  try {
    url = new URL(target.url);
  } catch {
    throw invalidField('use the registry', 'registry', 'an http(s) URL such as http://127.0.0.1:5000', target.url);
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.pathname.replace(/\/+$/, '') !== '') {
    throw invalidField('use the registry', 'registry', 'an http(s) URL with no path, such as http://127.0.0.1:5000', target.url);
  }
  return url.host;
}

/** The Basic credentials registry clients send: the user name is ignored, the token is the password. */
export function basicAuth(target: RegistryTarget): string {
  return `Basic ${Buffer.from(`aloft:${target.token}`).toString('base64')}`;
}

/** Checks an image name as `repo[:tag]` (lowercase path components, optional tag); returns both parts. */
export function parseImageName(name: string, action: string, field = 'tag'): { repo: string; tag: string } {
  const match = /^([a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*)(?::([A-Za-z0-9_][A-Za-z0-9._-]{0,127}))?$/.exec(name);
  if (!match?.[1]) throw invalidField(action, field, 'an image name such as "acme/web:v1" (lowercase repository, optional tag)', name);
  return { repo: match[1], tag: match[2] ?? 'latest' };
}
