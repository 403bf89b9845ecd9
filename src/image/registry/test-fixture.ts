// Helpers shared by the registry's tests: a registry on loopback in a temp dir, and
// small pushes through the HTTP API. Not part of the public face.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sha256Digest } from '../digest.ts';
import { MEDIA_TYPES } from '../media-types.ts';
import { imageManifestSchema, parseJson } from '../oci-schemas.ts';
import { createRegistry, type Registry, type RegistryOptions } from './registry.ts';
import type { Authorize } from './context.ts';

/** A registry listening on 127.0.0.1 with a base URL, and how to clean it up. */
export interface TestRegistry {
  registry: Registry;
  dir: string;
  base: string;
  port: number;
  close(): Promise<void>;
}

/** Starts a registry in a fresh temp dir on 127.0.0.1, any free port; `extra` adds options such as filterCatalog. */
export async function startTestRegistry(authorize?: Authorize, extra: Omit<RegistryOptions, 'dir' | 'authorize'> = {}): Promise<TestRegistry> {
  const dir = await mkdtemp(join(tmpdir(), 'aloft-registry-'));
  const registry = createRegistry(authorize === undefined ? { dir, ...extra } : { dir, ...extra, authorize });
  const running = await registry.listen({ host: '127.0.0.1', port: 0 });
  return {
    registry,
    dir,
    port: running.port,
    base: `http://127.0.0.1:${running.port}`,
    close: async () => {
      await running.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Pushes one blob monolithically; returns its digest. */
export async function pushBlob(base: string, repo: string, bytes: Buffer, headers: Record<string, string> = {}): Promise<string> {
  const digest = sha256Digest(bytes);
  const res = await fetch(`${base}/v2/${repo}/blobs/uploads/?digest=${digest}`, { method: 'POST', body: bytes, headers });
  if (res.status !== 201) throw new Error(`push blob: ${res.status} ${await res.text()}`);
  return digest;
}

/** An OCI image manifest over a config and layers (digests and sizes from the bytes). */
export function imageManifest(config: Buffer, layers: Buffer[], extra: Record<string, unknown> = {}): Buffer {
  const desc = (mediaType: string, b: Buffer) => ({ mediaType, digest: sha256Digest(b), size: b.length });
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.ociManifest,
      config: desc(MEDIA_TYPES.ociConfig, config),
      layers: layers.map((l) => desc(MEDIA_TYPES.ociLayerGzip, l)),
      ...extra,
    }),
  );
}

/** Pushes config, layers and the manifest under `ref` (with `headers`, e.g. credentials); returns the manifest digest. */
export async function pushImage(base: string, repo: string, ref: string, seed: string, headers: Record<string, string> = {}): Promise<{ digest: string; config: Buffer; layer: Buffer; manifest: Buffer }> {
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', seed }));
  const layer = Buffer.from(`layer of ${seed}`);
  await pushBlob(base, repo, config, headers);
  await pushBlob(base, repo, layer, headers);
  const manifest = imageManifest(config, [layer]);
  const res = await fetch(`${base}/v2/${repo}/manifests/${ref}`, { method: 'PUT', body: manifest, headers: { ...headers, 'Content-Type': MEDIA_TYPES.ociManifest } });
  if (res.status !== 201) throw new Error(`push manifest: ${res.status} ${await res.text()}`);
  return { digest: sha256Digest(manifest), config, layer, manifest };
}

/** The first spec error code of an error response. */
export async function errorCode(res: Response): Promise<string | undefined> {
  const body = (await res.json()) as { errors?: { code?: string }[] };
  return body.errors?.[0]?.code;
}

/** Pushes the image `digest` of the OCI layout at `layout` (config, layers, manifest) to `repo:tag`. */
export async function pushLayout(base: string, repo: string, tag: string, layout: string, digest: string, headers: Record<string, string> = {}): Promise<void> {
  const blob = (d: string): Promise<Buffer> => readFile(join(layout, 'blobs', 'sha256', d.slice('sha256:'.length)));
  const manifestBytes = await blob(digest);
  const manifest = parseJson(manifestBytes, imageManifestSchema, `manifest ${digest}`);
  for (const d of [manifest.config.digest, ...manifest.layers.map((l) => l.digest)]) await pushBlob(base, repo, await blob(d), headers);
  const res = await fetch(`${base}/v2/${repo}/manifests/${tag}`, { method: 'PUT', body: manifestBytes, headers: { ...headers, 'Content-Type': MEDIA_TYPES.ociManifest } });
  if (res.status !== 201) throw new Error(`push manifest: ${res.status} ${await res.text()}`);
}
