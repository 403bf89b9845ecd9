// `aloft images seed` for busybox, always run (offline, about a second): the image is
// reproducible, lands in the registry behind the platform's token check, and its
// busybox really runs once unpacked (chroot, as root).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createServer } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { isAloftError } from '../../lib/errors.ts';
import { ImageStore } from '../image-store.ts';
import { aptMirror, DEFAULT_DEBIAN_MIRROR } from './apt-mirror.ts';
import { startAuthRegistry, type AuthRegistry } from './buildah-fixture.ts';
import { pushLayoutImage } from './push-layout.ts';
import { seedImages } from './seed.ts';
import { writeBusyboxImage } from './seed-busybox.ts';

const run = promisify(execFile);

describe('seeding the busybox base image', () => {
  let reg: AuthRegistry;
  let work: string;

  before(async () => {
    reg = await startAuthRegistry();
    work = await mkdtemp(join(tmpdir(), 'aloft-seed-test-'));
  });
  after(async () => {
    await rm(work, { recursive: true, force: true });
    await reg.close();
  });

  test('the same busybox always gives the same digest', async () => {
    const a = await writeBusyboxImage(join(work, 'a'));
    const b = await writeBusyboxImage(join(work, 'b'));
    assert.equal(a.digest, b.digest);
    assert.equal(a.tag, 'latest');
  });

  test('seed pushes library/busybox:latest; pulled back, it unpacks with applet links and its shell runs', async () => {
    const lines: string[] = [];
    const [seeded, ...rest] = await seedImages({ registry: reg.target, only: ['busybox'], onLine: (l) => lines.push(l) });
    assert.equal(rest.length, 0);
    assert.ok(seeded);
    const host = `127.0.0.1:${reg.reg.port}`;
    assert.deepEqual(seeded.references, [`${host}/library/busybox:latest`]);
    assert.equal(seeded.digest, (await writeBusyboxImage(join(work, 'again'))).digest, 'the registry holds the reproducible digest');
    assert.ok(lines.some((l) => l.includes(seeded.digest)));

    const store = new ImageStore(join(work, 'images'), { credentials: () => ({ username: 'x', password: reg.target.token }) });
    const image = await store.resolve(`${host}/library/busybox:latest`);
    assert.equal(image.digest, seeded.digest);
    assert.deepEqual(image.config.cmd, ['sh']);
    const root = await store.unpack(image.digest);
    assert.equal(await readlink(join(root, 'bin', 'sh')), '/bin/busybox');
    assert.equal((await stat(join(root, 'tmp'))).mode & 0o7777, 0o1777);
    if (process.getuid?.() === 0) {
      const { stdout } = await run('/usr/sbin/chroot', [root, '/bin/sh', '-c', 'echo "$(id -un) in $(pwd)"; ls /usr/bin/wc'], { env: { PATH: '/bin:/usr/bin' } });
      assert.equal(stdout, 'root in /\n/usr/bin/wc\n');
    }

    // Seeding again sends no blob: the registry already has them all.
    const again = await pushLayoutImage(join(work, 'again'), 'latest', reg.target, 'library/busybox', 'latest');
    assert.equal(again.uploaded, 0);
  });

  test('the registry refuses a seed without a valid token; unknown names and prefixes are refused first', async () => {
    await assert.rejects(seedImages({ registry: { ...reg.target, token: 'wrong' }, only: ['busybox'] }), (err) => isAloftError(err, 'UNAUTHORIZED') && /401/.test(err.message));
    await assert.rejects(seedImages({ registry: reg.target, only: ['alpine'] }), /Cannot seed images as 'only' must be one of "busybox", "debian": got "alpine"/);
    await assert.rejects(seedImages({ registry: reg.target, prefix: 'Bad/Prefix' }), /'prefix' must be a lowercase repository path component/);
  });

  test('a registry that is not running is IMAGE_PUSH_FAILED saying so', async () => {
    const server = createServer().listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    const { port } = server.address() as { port: number };
    await new Promise((resolve) => server.close(resolve));
    await assert.rejects(seedImages({ registry: { url: `http://127.0.0.1:${port}`, token: 't' }, only: ['busybox'] }), (err) => isAloftError(err, 'IMAGE_PUSH_FAILED') && /must be reachable: got connect ECONNREFUSED/.test(err.message));
  });
});

test("aptMirror reads apt's one-line and deb822 sources, skipping security and other archives", async () => {
  const apt = await mkdtemp(join(tmpdir(), 'aloft-apt-test-'));
  try {
    assert.equal(await aptMirror('bookworm', apt), DEFAULT_DEBIAN_MIRROR, 'no sources: the default');
    await mkdir(join(apt, 'sources.list.d'));
    await writeFile(join(apt, 'sources.list.d', 'a.sources'), 'Types: deb\nURIs: http://security.debian.org/debian-security\nSuites: bookworm-security\n\nTypes: deb\nURIs: http://mirror.example/debian/\nSuites: bookworm bookworm-updates\nComponents: main\n');
    assert.equal(await aptMirror('bookworm', apt), 'http://mirror.example/debian');
    await writeFile(join(apt, 'sources.list'), '# comment\ndeb [arch=amd64] http://one.example/debian trixie main\ndeb https://nodesource.example/node_20.x nodistro main\n');
    assert.equal(await aptMirror('trixie', apt), 'http://one.example/debian');
    assert.equal(await aptMirror('bookworm', apt), 'http://mirror.example/debian');
  } finally {
    await rm(apt, { recursive: true, force: true });
  }
});
