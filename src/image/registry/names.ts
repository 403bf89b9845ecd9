import { AloftError } from '../../lib/errors.ts';
import { isDigest } from '../digest.ts';

// The Distribution Spec's grammar: path components of lowercase alphanumerics joined by
// '.', '_', '__' or runs of '-', separated by '/'. Components therefore never start
// with '_', which is why the storage layout can use '_'-prefixed folder names safely.
const NAME = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$/;
const TAG = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;
// Clients and proxies commonly cap the whole name (with a host) at 255 characters.
const MAX_NAME = 255;

/** Throws REGISTRY_NAME_INVALID unless `name` is a repository name per the spec. */
export function assertRepoName(name: string): void {
  if (name.length > MAX_NAME || !NAME.test(name)) {
    throw new AloftError('REGISTRY_NAME_INVALID', `Cannot use repository name as it must match the Distribution Spec's name grammar: got ${JSON.stringify(name.slice(0, 300))}`, {
      details: { name },
    });
  }
}

/** True when `tag` is a valid tag per the spec. */
export function isTag(tag: string): boolean {
  return TAG.test(tag);
}

/** A manifest reference: either a digest or a tag. */
export type Reference = { kind: 'digest'; digest: string } | { kind: 'tag'; tag: string };

/** Parses a manifest reference; REGISTRY_NAME_INVALID / REGISTRY_DIGEST_INVALID when malformed. */
export function parseReference(ref: string): Reference {
  if (ref.includes(':')) {
    assertDigest(ref);
    return { kind: 'digest', digest: ref };
  }
  if (!isTag(ref)) {
    throw new AloftError('REGISTRY_NAME_INVALID', `Cannot use tag as it must match [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}: got ${JSON.stringify(ref.slice(0, 200))}`, {
      details: { tag: ref },
    });
  }
  return { kind: 'tag', tag: ref };
}

/** Throws REGISTRY_DIGEST_INVALID unless `digest` is "sha256:<64 lowercase hex>". */
export function assertDigest(digest: string | undefined | null): asserts digest is string {
  if (typeof digest !== 'string' || !isDigest(digest)) {
    throw new AloftError('REGISTRY_DIGEST_INVALID', `Cannot use digest as it must be "sha256:" and 64 lowercase hex digits: got ${JSON.stringify((digest ?? '').slice(0, 100))}`, {
      details: { digest },
    });
  }
}
