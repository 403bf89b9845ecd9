import { AloftError } from '../lib/errors.ts';

/** A local image reference split into its parts. */
export interface LocalImageRef {
  /** The path as given (an OCI layout directory or a docker-archive tarball). */
  path: string;
  tag?: string;
  /** "sha256:…" when the reference pins a manifest. */
  digest?: string;
}

// The tag grammar of the OCI distribution spec.
const TAG = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;

/**
 * Splits "path", "path:tag" or "path@sha256:…". A colon counts as a tag separator only
 * after the last "/" and when what follows is a valid tag, so "./img:v1" has tag "v1"
 * while "/data/a:b/img" has none. Callers that find no file at `path` may retry with
 * the whole string as the path (see ImageStore.resolve).
 */
export function parseLocalRef(ref: string): LocalImageRef {
  if (ref.length === 0) {
    throw new AloftError('IMAGE_NOT_FOUND', 'Cannot resolve image as the reference must be a non-empty path: got ""');
  }
  const at = ref.lastIndexOf('@');
  if (at > 0 && ref.slice(at + 1).startsWith('sha256:')) {
    const digest = ref.slice(at + 1);
    if (!/^sha256:[a-f0-9]{64}$/.test(digest)) {
      throw new AloftError(
        'IMAGE_NOT_FOUND',
        `Cannot resolve image as the digest in '${ref}' must be "sha256:" and 64 lowercase hex digits: got ${JSON.stringify(digest)}`,
      );
    }
    return { path: ref.slice(0, at), digest };
  }
  const colon = ref.lastIndexOf(':');
  if (colon > ref.lastIndexOf('/') && colon > 0 && TAG.test(ref.slice(colon + 1))) {
    return { path: ref.slice(0, colon), tag: ref.slice(colon + 1) };
  }
  return { path: ref };
}
