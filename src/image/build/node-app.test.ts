import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { chmod, link, mkdir, mkdtemp, readdir, rm, symlink, truncate, utimes, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { prepareNodeHello } from '../../../examples/node-hello/prepare.ts';
import { isAloftError } from '../../lib/errors.ts';
import { ImageStore } from '../image-store.ts';
import { MAX_FILE_BYTES } from './app-tree.ts';
import { manifestOf, readJsonBlob, readLayer, type ReadEntry } from './layer-fixture.ts';
import { buildNodeApp } from './node-app.ts';
import { freePort } from '../../lib/testing/free-port.ts';

// A small dynamically linked binary stands in for node where a test looks only at the
// app's layers: the real one is ~100 MB to gzip on every build.
const SMALL_BINARY = '/usr/bin/true';

interface TestConfig {
  created: string;
  config: { User: string; Env: string[]; Cmd: string[]; WorkingDir: string; ExposedPorts?: Record<string, object> };
  rootfs: { diff_ids: string[] };
}

let base: string;
let appDir: string;
let n = 0;
const out = (): string => join(base, `out${n++}`);

before(async () => {
  base = await mkdtemp(join(tmpdir(), 'aloft-node-app-'));
  appDir = await prepareNodeHello(join(base, 'app'));
  // A .git directory never ships.
  await mkdir(join(appDir, '.git'));
  await writeFile(join(appDir, '.git', 'HEAD'), 'ref: refs/heads/main\n');
});
after(() => rm(base, { recursive: true, force: true }));

const names = (entries: ReadEntry[]): string[] => entries.map((e) => e.name);

/** A small app dir: package.json `pkg` plus `files`. */
async function smallApp(pkg: object, files: Record<string, string> = { 'server.js': '' }): Promise<string> {
  const dir = join(base, `small${n++}`);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'package.json'), JSON.stringify(pkg));
  for (const [name, content] of Object.entries(files)) {
    await mkdir(join(dir, name, '..'), { recursive: true });
    await writeFile(join(dir, name), content);
  }
  return dir;
}

describe('the node-hello example', () => {
  let layout: string;
  let digest: string;

  before(async () => {
    layout = out();
    const started = Date.now();
    const built = await buildNodeApp(appDir, layout);
    digest = built.digest;
    assert.deepEqual({ tag: built.tag, layers: built.layers }, { tag: 'latest', layers: 3 });
    console.log(`# node-hello build: ${Date.now() - started} ms`);
  });

  test('config: node runs package.json\'s start script in /app as node (1000:1000), production, port 8080', async () => {
    const { manifest } = await manifestOf(layout);
    const config = await readJsonBlob<TestConfig>(layout, manifest.config.digest);
    assert.equal(config.created, '1970-01-01T00:00:00.000Z');
    assert.deepEqual(config.config.Cmd, ['/usr/local/bin/node', 'server.js']);
    assert.equal(config.config.WorkingDir, '/app');
    assert.equal(config.config.User, '1000:1000');
    assert.deepEqual(config.config.Env, ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'NODE_ENV=production', 'PORT=8080']);
    assert.deepEqual(config.config.ExposedPorts, { '8080/tcp': {} });
    assert.equal(config.rootfs.diff_ids.length, 3);
    const sizes = manifest.layers.map((l) => l.size);
    console.log(`# node-hello image: layers ${sizes.join(' + ')} = ${sizes.reduce((a, b) => a + b, 0)} bytes gzip`);
  });

  test('layers: runtime, then node_modules as installed, then the app without node_modules, .git or ignored files', async () => {
    const { manifest } = await manifestOf(layout);
    const [runtime, modules, app] = await Promise.all(manifest.layers.map((l) => readLayer(layout, l.digest)));
    assert.ok(names(runtime!).includes('usr/local/bin/node'));
    assert.ok(runtime!.some((e) => e.name.includes('ld-linux') && e.type === 'file'), 'the loader itself');
    assert.deepEqual(names(modules!), ['app/', 'app/node_modules/', 'app/node_modules/.package-lock.json', 'app/node_modules/greeting']);
    assert.deepEqual([modules![3]?.type, modules![3]?.linkname], ['symlink', '../vendor/greeting'], "npm's link for a file: dependency stays a symlink");
    assert.deepEqual(names(app!), [
      'app/',
      'app/.aloftignore',
      'app/package-lock.json',
      'app/package.json',
      'app/server.js',
      'app/vendor/',
      'app/vendor/greeting/',
      'app/vendor/greeting/index.js',
      'app/vendor/greeting/package.json',
    ]);
    assert.ok(app!.every((e) => e.uid === 0 && e.mtime === 0 && (e.type === 'directory' ? e.mode === 0o755 : e.mode === 0o644)));
  });

  const CHROOT = ['/usr/sbin/chroot', '/usr/bin/chroot'].find((p) => existsSync(p));
  test('runs: node from the image serves the app as uid 1000', { skip: process.getuid?.() !== 0 || CHROOT === undefined ? 'needs root and chroot(8)' : false }, async () => {
    const images = new ImageStore(join(base, 'images'));
    const image = await images.resolve(layout);
    assert.equal(image.digest, digest);
    const root = await images.unpack(image.digest);
    const port = await freePort();
    // chroot(8) cannot set a working directory, so node changes to /app itself first.
    const child = spawn(CHROOT as string, ['--userspec=1000:1000', root, '/usr/local/bin/node', '-e', "process.chdir('/app'); import('/app/server.js')"], {
      env: { ...Object.fromEntries(image.config.env.map((e) => e.split('=', 2) as [string, string])), PORT: String(port), FLY_APP_NAME: 'node-hello' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    const exited = once(child, 'exit');
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', () => output.includes('listening') && resolve());
        void exited.then(() => reject(new Error(`node exited before listening: ${output}`)));
      });
      const body = (await (await fetch(`http://127.0.0.1:${port}/x`)).json()) as Record<string, unknown>;
      assert.deepEqual({ ...body, hostname: undefined }, { message: 'Hello from node-hello!', node: process.version, hostname: undefined, machine: null, region: null, uid: 1000, env: 'production', path: '/x' });
      child.kill('SIGTERM');
      assert.deepEqual(await exited, [0, null], 'SIGTERM ends it cleanly');
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  });

  test('reproducible: built again after touching files, the digest is the same byte for byte', async () => {
    await utimes(join(appDir, 'server.js'), new Date(), new Date());
    await utimes(join(appDir, 'node_modules', '.package-lock.json'), new Date(), new Date());
    await chmod(join(appDir, 'package.json'), 0o600);
    const again = out();
    assert.equal((await buildNodeApp(appDir, again)).digest, digest);
    assert.deepEqual(await readdir(join(again, 'blobs', 'sha256')), await readdir(join(layout, 'blobs', 'sha256')));
  });

  test('a changed app file changes only the app layer', async () => {
    const changed = join(base, 'changed-app');
    await rm(changed, { recursive: true, force: true });
    spawnSync('cp', ['-a', appDir, changed]);
    await writeFile(join(changed, 'server.js'), '// changed\n', { flag: 'a' });
    const layout2 = out();
    const built = await buildNodeApp(changed, layout2);
    assert.notEqual(built.digest, digest);
    const before = (await manifestOf(layout)).manifest.layers.map((l) => l.digest);
    const afterChange = (await manifestOf(layout2)).manifest.layers.map((l) => l.digest);
    assert.deepEqual(afterChange.slice(0, 2), before.slice(0, 2));
    assert.notEqual(afterChange[2], before[2]);
  });
});

test('SOURCE_DATE_EPOCH sets every mtime and created; the option wins over the variable', async () => {
  const dir = await smallApp({});
  const layout = out();
  process.env['SOURCE_DATE_EPOCH'] = '1700000000';
  try {
    await buildNodeApp(dir, layout, { nodeBinary: SMALL_BINARY });
    const { manifest } = await manifestOf(layout);
    assert.equal((await readJsonBlob<TestConfig>(layout, manifest.config.digest)).created, '2023-11-14T22:13:20.000Z');
    assert.ok((await readLayer(layout, manifest.layers[1]!.digest)).every((e) => e.mtime === 1_700_000_000_000));
    const other = out();
    await buildNodeApp(dir, other, { nodeBinary: SMALL_BINARY, sourceDateEpoch: 0 });
    assert.equal((await readJsonBlob<TestConfig>(other, (await manifestOf(other)).manifest.config.digest)).created, '1970-01-01T00:00:00.000Z');
    process.env['SOURCE_DATE_EPOCH'] = 'yesterday';
    await assert.rejects(buildNodeApp(dir, out(), { nodeBinary: SMALL_BINARY }), /'SOURCE_DATE_EPOCH' must be whole seconds since 1970, 0 or more: got "yesterday"/);
  } finally {
    delete process.env['SOURCE_DATE_EPOCH'];
  }
});

test('no dependencies and no node_modules: two layers; tags add to one layout', async () => {
  const dir = await smallApp({ main: 'index.js' }, { 'index.js': 'console.log(1)' });
  const layout = out();
  assert.equal((await buildNodeApp(dir, layout, { nodeBinary: SMALL_BINARY, tag: 'v1' })).layers, 2);
  await buildNodeApp(dir, layout, { nodeBinary: SMALL_BINARY, tag: 'v2' });
  const config = await readJsonBlob<TestConfig>(layout, (await manifestOf(layout, 'v1')).manifest.config.digest);
  assert.deepEqual(config.config.Cmd, ['/usr/local/bin/node', 'index.js']);
  assert.equal(config.config.ExposedPorts, undefined);
  assert.equal((await manifestOf(layout, 'v2')).digest, (await manifestOf(layout, 'v1')).digest);
});

test('symlinks and hard links in the app stay what they are', async () => {
  const dir = await smallApp({}, { 'server.js': 'x', 'data/a.txt': 'shared' });
  await link(join(dir, 'data', 'a.txt'), join(dir, 'data', 'b.txt'));
  await symlink('a.txt', join(dir, 'data', 'c.txt'));
  await symlink('/etc/hostname', join(dir, 'abs'));
  const layout = out();
  await buildNodeApp(dir, layout, { nodeBinary: SMALL_BINARY });
  const app = await readLayer(layout, (await manifestOf(layout)).manifest.layers[1]!.digest);
  const byName = new Map(app.map((e) => [e.name, e]));
  assert.deepEqual([byName.get('app/data/a.txt')?.type, byName.get('app/data/a.txt')?.content.toString()], ['file', 'shared']);
  assert.deepEqual([byName.get('app/data/b.txt')?.type, byName.get('app/data/b.txt')?.linkname], ['link', 'app/data/a.txt']);
  assert.deepEqual([byName.get('app/data/c.txt')?.type, byName.get('app/data/c.txt')?.linkname], ['symlink', 'a.txt']);
  assert.deepEqual([byName.get('app/abs')?.type, byName.get('app/abs')?.linkname], ['symlink', '/etc/hostname']);
});

test('.dockerignore is read when there is no .aloftignore; it never drops node_modules; an output dir inside the app is left out', async () => {
  const dir = await smallApp({ dependencies: { x: '1' } }, { 'server.js': '', 'notes.md': '', 'docs/a.md': '', 'docs/keep.md': '', 'node_modules/x/index.js': '' });
  await writeFile(join(dir, '.dockerignore'), 'node_modules\n*.md\ndocs\n!docs/keep.md\n');
  const layout = join(dir, 'image');
  await buildNodeApp(dir, layout, { nodeBinary: SMALL_BINARY });
  await buildNodeApp(dir, layout, { nodeBinary: SMALL_BINARY, tag: 'again' });
  const { manifest } = await manifestOf(layout, 'again');
  assert.deepEqual(names(await readLayer(layout, manifest.layers[1]!.digest)), ['app/', 'app/node_modules/', 'app/node_modules/x/', 'app/node_modules/x/index.js']);
  assert.deepEqual(names(await readLayer(layout, manifest.layers[2]!.digest)), ['app/', 'app/.dockerignore', 'app/docs/', 'app/docs/keep.md', 'app/package.json', 'app/server.js']);
  await writeFile(join(dir, '.aloftignore'), 'server.js\n');
  await assert.rejects(buildNodeApp(dir, out(), { nodeBinary: SMALL_BINARY }), /'scripts\.start' must be a plain `node FILE` command/, '.aloftignore replaces .dockerignore');
});

describe('refused inputs: a clear error, and no layout left behind', () => {
  const refuses = async (dir: string, code: 'BUILD_FAILED' | 'INVALID_ARGUMENT', message: RegExp, options: Parameters<typeof buildNodeApp>[2] = {}): Promise<void> => {
    const layout = out();
    await assert.rejects(buildNodeApp(dir, layout, { nodeBinary: SMALL_BINARY, ...options }), (err: unknown) => isAloftError(err, code) && message.test(err.message));
    assert.equal(existsSync(layout), false, 'nothing written');
  };

  test('node_modules missing while package-lock.json exists: run npm ci', async () => {
    const dir = await smallApp({}, { 'server.js': '', 'package-lock.json': '{}' });
    await refuses(dir, 'BUILD_FAILED', /node_modules' must exist when package-lock\.json exists: got nothing\. Run `npm ci --omit=dev` in .* first; the builder never fetches packages/);
    const deps = await smallApp({ dependencies: { left: '1' } });
    await refuses(deps, 'BUILD_FAILED', /must exist when package\.json has 'dependencies'/);
  });

  test('a socket or FIFO in the app, named', async () => {
    const dir = await smallApp({});
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(join(dir, 'app.sock'), resolve));
    try {
      await refuses(dir, 'BUILD_FAILED', new RegExp(`'${join(dir, 'app.sock')}' must be a file, directory or symlink: got a socket`));
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
    const fifo = await smallApp({});
    assert.equal(spawnSync('mkfifo', [join(fifo, 'pipe')]).status, 0);
    await refuses(fifo, 'BUILD_FAILED', /pipe' must be a file, directory or symlink: got a FIFO/);
  });

  test('a file over the size limit, named (sparse: nothing big is written)', async () => {
    const dir = await smallApp({});
    await writeFile(join(dir, 'huge.bin'), '');
    await truncate(join(dir, 'huge.bin'), MAX_FILE_BYTES + 1);
    await refuses(dir, 'BUILD_FAILED', new RegExp(`'${join(dir, 'huge.bin')}' must be at most ${MAX_FILE_BYTES} bytes: got ${MAX_FILE_BYTES + 1}`));
  });

  test('bad options and a missing app dir', async () => {
    const dir = await smallApp({});
    await refuses(dir, 'INVALID_ARGUMENT', /'tag' must be a tag .*: got "-bad"/, { tag: '-bad' });
    await refuses(dir, 'INVALID_ARGUMENT', /'sourceDateEpoch' must be whole seconds since 1970, 0 or more: got -1/, { sourceDateEpoch: -1 });
    await refuses(join(base, 'nope'), 'INVALID_ARGUMENT', /'appDir' must be a directory/);
    await refuses(dir, 'INVALID_ARGUMENT', /'nodeBinary' must be an ELF executable/, { nodeBinary: join(dir, 'package.json') });
  });
});

