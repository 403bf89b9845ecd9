import { AloftError } from '../lib/errors.ts';
import { isDigest } from './digest.ts';

/** A reference to an image in a registry: `host[:port]/repo[/…][:tag|@sha256:…]`. */
export interface RegistryImageRef {
  /** "registry.example.com", "127.0.0.1:5000", "localhost". */
  host: string;
  repository: string;
  /** The tag asked for; "latest" when neither a tag nor a digest is given. */
  tag?: string;
  /** "sha256:…" when the reference pins a manifest. */
  digest?: string;
}

// The Distribution Spec's repository name grammar, and its tag grammar.
const NAME = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
const HOST = /^[A-Za-z0-9.-]+(?::[0-9]{1,5})?$|^\[[0-9A-Fa-f:.]+\](?::[0-9]{1,5})?$/;

/**
 * Reads `ref` as a registry reference, or resolves undefined when it does not look like
 * one: only a first component with a dot, a colon or "localhost" names a registry host
 * (as docker decides), and a ref starting with "/" or "." is always a path. Throws
 * IMAGE_NOT_FOUND when it names a host but the rest is malformed.
 */
export function parseRegistryRef(ref: string): RegistryImageRef | undefined {
  if (ref.startsWith('/') || ref.startsWith('.')) return undefined;
  const slash = ref.indexOf('/');
  if (slash <= 0) return undefined;
  const host = ref.slice(0, slash);
  if (!(host.includes('.') || host.includes(':') || host === 'localhost') || !HOST.test(host)) return undefined;
  let rest = ref.slice(slash + 1);
  let digest: string | undefined;
  let tag: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!isDigest(digest)) throw invalid(ref, 'the digest', '"sha256:" and 64 lowercase hex digits', digest);
  }
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw invalid(ref, 'the tag', 'a valid tag ([A-Za-z0-9_][A-Za-z0-9._-]{0,127})', tag);
  }
  if (!NAME.test(rest)) throw invalid(ref, 'the repository', 'lowercase path components ([a-z0-9] joined by ".", "_" or "-")', rest);
  if (tag === undefined && digest === undefined) tag = 'latest';
  return { host, repository: rest, ...(tag === undefined ? {} : { tag }), ...(digest === undefined ? {} : { digest }) };
}

/** "host/repo:tag", "host/repo@sha256:…" or both: the canonical form of a registry ref. */
export function formatRegistryRef(ref: RegistryImageRef): string {
  return `${ref.host}/${ref.repository}${ref.tag === undefined ? '' : `:${ref.tag}`}${ref.digest === undefined ? '' : `@${ref.digest}`}`;
}

function invalid(ref: string, field: string, rule: string, got: string): AloftError {
  return new AloftError('IMAGE_NOT_FOUND', `Cannot resolve image '${ref}' as ${field} must be ${rule}: got ${JSON.stringify(got.slice(0, 200))}`);
}
