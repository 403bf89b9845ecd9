/**
 * `aloft images seed|build|ls` as a user runs them, against a real registry behind the
 * platform's token check (in process, on loopback). Buildah runs for real when it is
 * installed and we are root; its storage goes to a temp data dir, removed at the end.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startAuthRegistry, OPERATOR_TOKEN, SKIP_WITHOUT_BUILDAH, type AuthRegistry } from '../../src/image/build/buildah-fixture.ts';
import { buildahStorageDir, removeBuildahStorage } from '../../src/image/build/index.ts';
import { fails, json, runAloft, type Run } from './cli-runner.ts';

describe('aloft images against a live registry', () => {
  let reg: AuthRegistry;
  let work: string;

  const aloft = (args: string[], token = OPERATOR_TOKEN): Promise<Run> =>
    runAloft(args, { ALOFT_API_TOKEN: token, ALOFT_REGISTRY_URL: reg.reg.base, ALOFT_DATA_DIR: join(work, 'data') }, work);

  before(async () => {
    reg = await startAuthRegistry();
    work = await mkdtemp(join(tmpdir(), 'aloft-cli-images-'));
  });
  after(async () => {
    await removeBuildahStorage(buildahStorageDir(join(work, 'data'))).catch(() => undefined);
    await rm(work, { recursive: true, force: true });
    await reg.close();
  });

  test('ls on an empty registry, seed busybox, ls again', async () => {
    assert.deepEqual(json<unknown[]>(await aloft(['images', 'ls', '--json'])), []);
    assert.match((await aloft(['images', 'ls'])).stdout, /No images in http:\/\/127\.0\.0\.1:\d+ yet/);

    const seeded = json<{ name: string; references: string[]; digest: string }[]>(await aloft(['images', 'seed', '--only', 'busybox', '--json']));
    assert.equal(seeded.length, 1);
    assert.deepEqual(seeded[0]?.references, [`127.0.0.1:${reg.reg.port}/library/busybox:latest`]);

    assert.deepEqual(json<unknown[]>(await aloft(['images', 'ls', '--json'])), [{ repository: 'library/busybox', tags: ['latest'] }]);
    const table = (await aloft(['images', 'ls'])).stdout.trim().split('\n');
    assert.deepEqual(table, ['REPOSITORY       TAGS', 'library/busybox  latest']);
  });

  test('build a Dockerfile FROM busybox and push it; ls shows it', { skip: SKIP_WITHOUT_BUILDAH }, async () => {
    const app = join(work, 'app');
    await mkdir(app, { recursive: true });
    await writeFile(join(app, 'Dockerfile'), 'FROM busybox\nRUN echo hi > /hi\nCMD ["cat", "/hi"]\n');
    const run = await aloft(['images', 'build', app, '--tag', 'acme/cli:v1', '--push', '--json']);
    const built = json<{ builder: string; reference: string; digest: string }>(run);
    assert.equal(built.builder, 'dockerfile');
    assert.equal(built.reference, `127.0.0.1:${reg.reg.port}/acme/cli:v1`);
    assert.match(run.stderr, /STEP 3\/3: CMD/, "buildah's output streams to stderr");
    const listed = json<{ repository: string; tags: string[] }[]>(await aloft(['images', 'ls', '--json']));
    assert.deepEqual(listed.find((r) => r.repository === 'acme/cli')?.tags, ['v1']);

    const quiet = await aloft(['images', 'build', app, '--tag', 'acme/cli:v2', '--output', join(work, 'layout'), '--quiet']);
    assert.equal(quiet.code, 0, quiet.stderr);
    assert.equal(quiet.stderr, '');
    assert.match(quiet.stdout, /^Built acme\/cli:v2 \(dockerfile\) in [\d.]+ s: sha256:[0-9a-f]{64} -> OCI layout .*layout\n$/);
  });

  test('errors are one line: unknown seed, nothing to build, bad tag, wrong token', async () => {
    fails(await aloft(['images', 'seed', '--only', 'alpine']), /'only' must be one of "busybox", "debian": got "alpine"/);
    const empty = join(work, 'empty');
    await mkdir(empty, { recursive: true });
    fails(await aloft(['images', 'build', empty, '--tag', 'acme/x']), /must hold one of Dockerfile, Containerfile, package\.json: got none of them/);
    fails(await aloft(['images', 'build', empty, '--tag', 'Not A Tag']), /'tag' must be an image name/);
    fails(await aloft(['images', 'ls'], 'wrong-token'), /must answer 200: got 401/);
    const server = createServer().listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    const { port } = server.address() as { port: number };
    await new Promise((resolve) => server.close(resolve));
    fails(await aloft(['images', 'ls', '--registry', `http://127.0.0.1:${port}`]), /Cannot reach the aloft registry at .*ECONNREFUSED/);
  });
});
