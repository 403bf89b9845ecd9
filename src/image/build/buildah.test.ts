// The acceptance for Dockerfile builds: Debian's buildah builds FROM a base
// image in the aloft registry (seeded busybox), runs a busybox command, copies a file,
// sets ENV and CMD; `buildah push` sends the result to the registry as a real client,
// and aloft's own puller gets it back by digest. Buildah's storage lives in a temp dir
// and is removed at the end, with a check that nothing stayed mounted.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { isAloftError } from '../../lib/errors.ts';
import { ImageStore } from '../image-store.ts';
import { startAuthRegistry, SKIP_WITHOUT_BUILDAH, type AuthRegistry } from './buildah-fixture.ts';
import { buildDockerfile, removeBuildahStorage } from './buildah.ts';
import { requireTool } from './host-tool.ts';
import { seedImages } from './seed.ts';
import { mountsUnder } from './unmount-under.ts';

describe('Dockerfile builds with buildah against the aloft registry', { skip: SKIP_WITHOUT_BUILDAH }, () => {
  let reg: AuthRegistry;
  let work: string;
  let storageDir: string;
  let host: string;

  before(async () => {
    reg = await startAuthRegistry();
    host = `127.0.0.1:${reg.reg.port}`;
    work = await mkdtemp(join(tmpdir(), 'aloft-buildah-test-'));
    storageDir = join(work, 'buildah');
    await seedImages({ registry: reg.target, only: ['busybox'] });
  });
  after(async () => {
    await removeBuildahStorage(storageDir);
    assert.deepEqual(await mountsUnder(work), [], 'buildah left no mounts');
    await rm(work, { recursive: true, force: true });
    await reg.close();
  });

  /** A build context with a Dockerfile and the files given. */
  async function context(name: string, dockerfile: string, files: Record<string, string> = {}): Promise<string> {
    const dir = join(work, name);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'Dockerfile'), dockerfile);
    for (const [file, content] of Object.entries(files)) await writeFile(join(dir, file), content);
    return dir;
  }

  test('FROM busybox, RUN, COPY, ENV, CMD: pushed with buildah push, pulled back by digest, config and files as written', async () => {
    const dir = await context(
      'app',
      ['FROM busybox', 'RUN echo "built by $(busybox | head -1 | cut -d" " -f1)" > /built.txt', 'COPY hello.txt /app/hello.txt', 'ENV GREETING=hi', 'CMD ["cat", "/app/hello.txt"]', ''].join('\n'),
      { 'hello.txt': 'hello from the context\n' },
    );
    const lines: string[] = [];
    const built = await buildDockerfile(dir, { tag: 'acme/app:v1', storageDir, registry: reg.target, push: true, layoutDir: join(work, 'app-layout'), onLine: (l) => lines.push(l) });
    assert.equal(built.reference, `${host}/acme/app:v1`);
    assert.match(built.digest, /^sha256:[0-9a-f]{64}$/);
    assert.ok(lines.some((l) => l.startsWith('STEP 5/5: CMD')), `streamed buildah's steps: ${lines.join('\n')}`);

    const tags = (await (await fetch(`${reg.reg.base}/v2/acme/app/tags/list`, { headers: { authorization: `Bearer ${reg.target.token}` } })).json()) as { tags: string[] };
    assert.deepEqual(tags.tags, ['v1']);

    const store = new ImageStore(join(work, 'images'), { credentials: () => ({ username: 'aloft', password: reg.target.token }) });
    const pulled = await store.resolve(`${host}/acme/app@${built.digest}`);
    assert.equal(pulled.digest, built.digest);
    assert.deepEqual(pulled.config.cmd, ['cat', '/app/hello.txt']);
    assert.ok(pulled.config.env.includes('GREETING=hi'), `env: ${pulled.config.env.join(' ')}`);
    assert.ok(pulled.config.env.some((e) => e.startsWith('PATH=')), 'PATH from the base image');
    assert.equal(pulled.layers.length, 3, 'the base layer, RUN and COPY');
    // `FROM busybox` was rewritten to the aloft registry: the bottom layer is the seeded one.
    const base = (await (await fetch(`${reg.reg.base}/v2/library/busybox/manifests/latest`, { headers: { authorization: `Bearer ${reg.target.token}`, accept: 'application/vnd.oci.image.manifest.v1+json' } })).json()) as { layers: { digest: string }[] };
    assert.equal(pulled.layers[0], base.layers[0]?.digest);
    const root = await store.unpack(pulled.digest);
    assert.equal(await readFile(join(root, 'app', 'hello.txt'), 'utf8'), 'hello from the context\n');
    assert.equal(await readFile(join(root, 'built.txt'), 'utf8'), 'built by BusyBox\n');
    assert.equal(await readlink(join(root, 'bin', 'sh')), '/bin/busybox');

    // The layout holds the same image (its own compression, so its own digest).
    const local = await store.resolve(`${join(work, 'app-layout')}:v1`);
    assert.deepEqual(local.config.cmd, ['cat', '/app/hello.txt']);
  });

  test('FROM the registry by its full name, with a fixed timestamp: the same Dockerfile gives the same digest twice', async () => {
    const dir = await context('full', `FROM ${host}/library/busybox:latest\nCOPY a.txt /a.txt\nCMD ["cat", "/a.txt"]\n`, { 'a.txt': 'A\n' });
    const options = { storageDir, registry: reg.target, sourceDateEpoch: 1_700_000_000, layers: false };
    const first = await buildDockerfile(dir, { ...options, tag: 'acme/full:1', layoutDir: join(work, 'full-1') });
    const second = await buildDockerfile(dir, { ...options, tag: 'acme/full:1', layoutDir: join(work, 'full-2') });
    assert.equal(second.digest, first.digest);
    assert.equal(first.reference, undefined, 'not pushed');
  });

  test('a failing RUN is BUILD_FAILED with the end of the log in the message', async () => {
    const dir = await context('fails', 'FROM busybox\nRUN echo about-to-fail && exit 3\n');
    await assert.rejects(buildDockerfile(dir, { tag: 'acme/fails', storageDir, registry: reg.target, layoutDir: join(work, 'fails-layout') }), (err) => {
      assert.ok(isAloftError(err, 'BUILD_FAILED'), String(err));
      assert.match(err.message, /about-to-fail/);
      assert.match(err.message, /exit status 3|exit code 3|status 3/);
      return true;
    });
  });

  test('a base image the registry lacks fails the build naming it; a wrong token cannot pull the base', async () => {
    const dir = await context('nobase', 'FROM acme/no-such-base:1\nRUN true\n');
    await assert.rejects(buildDockerfile(dir, { tag: 'acme/nobase', storageDir, registry: reg.target, layoutDir: join(work, 'nobase') }), (err) => {
      assert.ok(isAloftError(err, 'BUILD_FAILED'));
      assert.match(err.message, /acme\/no-such-base/);
      return true;
    });
    // A name the host's containers config aliases to another registry still comes from ours.
    const aliased = await context('aliased', 'FROM fedora\nRUN true\n');
    await assert.rejects(buildDockerfile(aliased, { tag: 'acme/aliased', storageDir, registry: reg.target, layoutDir: join(work, 'aliased') }), (err) => {
      assert.ok(isAloftError(err, 'BUILD_FAILED'));
      assert.ok(err.message.includes(`${host}/library/fedora`), err.message);
      return true;
    });
    const bad = await context('badtoken', `FROM ${host}/library/busybox:latest\nRUN true\n`);
    await assert.rejects(
      buildDockerfile(bad, { tag: 'acme/bad', storageDir, registry: { ...reg.target, token: 'wrong' }, push: true, layers: false }),
      (err) => isAloftError(err, 'BUILD_FAILED') || isAloftError(err, 'IMAGE_PUSH_FAILED'),
    );
  });

  test('bad input: a tag that is not an image name, a missing Dockerfile, no output', async () => {
    const dir = await context('input', 'FROM busybox\n');
    await assert.rejects(buildDockerfile(dir, { tag: 'Acme/App', storageDir, layoutDir: join(work, 'x') }), /Cannot build image as 'tag' must be an image name/);
    await assert.rejects(buildDockerfile(dir, { tag: 'acme/app', storageDir, layoutDir: join(work, 'x'), dockerfile: 'Nope' }), /'dockerfile' must be an existing file/);
    await assert.rejects(buildDockerfile(dir, { tag: 'acme/app', storageDir }), /'output' must be a registry push or an OCI layout dir/);
  });
});

test('a missing build tool is BUILD_TOOL_MISSING naming the apt package', () => {
  assert.throws(
    () => requireTool('aloft-no-such-tool', 'aloft-no-such-package', 'build a Dockerfile', { PATH: '/nonexistent' }),
    (err) => isAloftError(err, 'BUILD_TOOL_MISSING') && /apt-get install -y aloft-no-such-package/.test(err.message),
  );
});
