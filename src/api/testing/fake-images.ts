import { AloftError } from '../../lib/errors.ts';
import type { ResolvedImage } from '../../image/types.ts';
import type { ImageResolver } from '../machine-ops.ts';

/**
 * The image resolver of in-process API tests: "ok-image" and its variants
 * ("ok-image-2"…, with another digest, for updates) resolve; anything else is
 * IMAGE_NOT_FOUND, as a missing path would be.
 */
export const fakeImages: ImageResolver = {
  async resolve(ref: string): Promise<ResolvedImage> {
    if (!ref.startsWith('ok-image')) throw new AloftError('IMAGE_NOT_FOUND', `Cannot find image "${ref}": no such path`);
    return {
      ref,
      digest: `sha256:${(ref === 'ok-image' ? 'a' : 'b').repeat(64)}`,
      registry: 'local',
      repository: ref,
      tag: 'latest',
      config: { entrypoint: ['/bin/sh'], cmd: [], env: [], workingDir: '/', user: '', exposedPorts: [8080] },
      layers: [],
    };
  },
};
