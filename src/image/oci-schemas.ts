import { z } from 'zod';
import { AloftError } from '../lib/errors.ts';

// Only the fields aloft uses are declared; zod drops the rest, but blobs are always
// stored as the original bytes, so nothing is lost by parsing.

const digest = z.string().regex(/^sha256:[a-f0-9]{64}$/, 'must be "sha256:" and 64 lowercase hex digits');
const stringList = z.array(z.string()).nullish();

/** An OCI content descriptor. */
export const descriptorSchema = z.object({
  mediaType: z.string(),
  digest,
  size: z.number().int().nonnegative(),
  annotations: z.record(z.string(), z.string()).nullish(),
  platform: z
    .object({ architecture: z.string(), os: z.string(), variant: z.string().optional() })
    .nullish(),
});
export type Descriptor = z.infer<typeof descriptorSchema>;

/** An image index (`index.json`, or a multi-platform index blob). */
export const imageIndexSchema = z.object({
  schemaVersion: z.literal(2),
  mediaType: z.string().optional(),
  manifests: z.array(descriptorSchema),
});
export type ImageIndex = z.infer<typeof imageIndexSchema>;

/** An image manifest (OCI, or Docker schema 2 which has the same shape). */
export const imageManifestSchema = z.object({
  schemaVersion: z.literal(2),
  mediaType: z.string().optional(),
  config: descriptorSchema,
  layers: z.array(descriptorSchema),
});
export type ImageManifest = z.infer<typeof imageManifestSchema>;

/** The image config blob: what to run, and the uncompressed layer digests. */
export const imageConfigSchema = z.object({
  architecture: z.string(),
  os: z.string(),
  variant: z.string().optional(),
  config: z
    .object({
      Entrypoint: stringList,
      Cmd: stringList,
      Env: stringList,
      WorkingDir: z.string().nullish(),
      User: z.string().nullish(),
      ExposedPorts: z.record(z.string(), z.unknown()).nullish(),
    })
    .nullish(),
  rootfs: z.object({ type: z.literal('layers'), diff_ids: z.array(digest) }),
});
export type OciImageConfig = z.infer<typeof imageConfigSchema>;

/** `oci-layout` at the root of an image layout. */
export const ociLayoutFileSchema = z.object({ imageLayoutVersion: z.string() });

/** `manifest.json` of a `docker save` archive. */
export const dockerArchiveManifestSchema = z
  .array(
    z.object({
      Config: z.string(),
      RepoTags: z.array(z.string()).nullish(),
      Layers: z.array(z.string()),
    }),
  )
  .min(1);

/**
 * Parses JSON bytes with a schema; IMAGE_INVALID naming `what` and the first failing
 * field otherwise ("Cannot read image manifest sha256:… as 'layers.0.size' must …").
 */
export function parseJson<T>(bytes: Buffer, schema: z.ZodType<T>, what: string): T {
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new AloftError('IMAGE_INVALID', `Cannot read ${what} as it must be valid JSON: got ${(err as Error).message}`, {
      cause: err,
    });
  }
  const result = schema.safeParse(value);
  if (!result.success) {
    const issue = result.error.issues[0];
    const field = issue && issue.path.length > 0 ? issue.path.join('.') : '(root)';
    throw new AloftError('IMAGE_INVALID', `Cannot read ${what} as '${field}' is invalid: ${issue?.message ?? 'unknown'}`, {
      details: { field },
    });
  }
  return result.data;
}
