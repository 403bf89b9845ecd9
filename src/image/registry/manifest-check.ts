import { AloftError } from '../../lib/errors.ts';
import { isDigest } from '../digest.ts';
import { isIndexMediaType, isManifestMediaType } from '../media-types.ts';

/** What a pushed manifest references, for existence checks and garbage collection. */
export interface ManifestRefs {
  mediaType: string;
  /** Blobs the manifest needs in the repository (config and layers). */
  blobs: string[];
  /** Manifests an index needs in the repository. */
  manifests: string[];
  /** The `subject` digest, when the manifest has one (not required to exist). */
  subject: string | undefined;
}

/**
 * Parses a manifest body and says what it references. The media type comes from the
 * body's `mediaType` or, when absent, the request's Content-Type; the two must agree
 * when both are given. REGISTRY_MANIFEST_INVALID for malformed JSON, an unsupported
 * media type, or descriptors without a valid digest and size.
 */
export function checkManifest(body: Buffer, contentType: string | undefined): ManifestRefs {
  let doc: unknown;
  try {
    doc = JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw invalid('it must be JSON', 'unparsable bytes', err);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw invalid('it must be a JSON object', typeof doc);
  const record = doc as Record<string, unknown>;
  if (record['schemaVersion'] !== 2) throw invalid("'schemaVersion' must be 2", JSON.stringify(record['schemaVersion']));
  const declared = typeof record['mediaType'] === 'string' ? record['mediaType'] : undefined;
  const header = contentType?.split(';')[0]?.trim();
  if (declared !== undefined && header !== undefined && header !== '' && header !== declared) {
    throw invalid(`its Content-Type must match its mediaType ${declared}`, header);
  }
  // An OCI manifest may omit mediaType; fall back to the header, then to the shape.
  const mediaType = declared ?? (header !== undefined && header !== '' ? header : Array.isArray(record['manifests']) ? 'application/vnd.oci.image.index.v1+json' : 'application/vnd.oci.image.manifest.v1+json');
  const subject = record['subject'] === undefined ? undefined : descriptor(record['subject'], 'subject').digest;
  if (isManifestMediaType(mediaType)) {
    const config = descriptor(record['config'], 'config');
    const layers = list(record['layers'], 'layers');
    return { mediaType, blobs: [config.digest, ...layers.map((l, i) => descriptor(l, `layers[${i}]`).digest)], manifests: [], subject };
  }
  if (isIndexMediaType(mediaType)) {
    const manifests = list(record['manifests'], 'manifests');
    return { mediaType, blobs: [], manifests: manifests.map((m, i) => descriptor(m, `manifests[${i}]`).digest), subject };
  }
  throw new AloftError('REGISTRY_MANIFEST_INVALID', `Cannot store manifest as its media type must be an OCI image manifest or index or a Docker schema 2 manifest or list: got ${JSON.stringify(mediaType)}`, {
    details: { mediaType },
  });
}

function list(value: unknown, field: string): unknown[] {
  if (!Array.isArray(value)) throw invalid(`'${field}' must be an array`, JSON.stringify(value)?.slice(0, 80) ?? 'nothing');
  return value;
}

function descriptor(value: unknown, field: string): { digest: string } {
  const d = typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
  const digest = d['digest'];
  const size = d['size'];
  if (typeof digest !== 'string' || !isDigest(digest) || typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
    throw invalid(`'${field}' must be a descriptor with a sha256 digest and a size`, JSON.stringify(value)?.slice(0, 120) ?? 'nothing');
  }
  return { digest };
}

function invalid(rule: string, got: string, cause?: unknown): AloftError {
  return new AloftError('REGISTRY_MANIFEST_INVALID', `Cannot store manifest as ${rule}: got ${got}`, cause === undefined ? {} : { cause });
}
