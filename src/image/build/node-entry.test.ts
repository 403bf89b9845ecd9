import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { isAloftError } from '../../lib/errors.ts';
import { readNodeApp } from './node-entry.ts';

let base: string;
let n = 0;
before(async () => {
  base = await mkdtemp(join(tmpdir(), 'aloft-node-entry-'));
});
after(() => rm(base, { recursive: true, force: true }));

/** A fresh app dir with package.json `pkg` (a string is written as is) and `files`. */
async function app(pkg: unknown, files: string[] = []): Promise<string> {
  const dir = join(base, `app${n++}`);
  await mkdir(dir, { recursive: true });
  if (pkg !== undefined) await writeFile(join(dir, 'package.json'), typeof pkg === 'string' ? pkg : JSON.stringify(pkg));
  for (const file of files) {
    await mkdir(join(dir, file, '..'), { recursive: true });
    await writeFile(join(dir, file), '');
  }
  return dir;
}

const all = (): boolean => true;

test('a plain `node FILE` start script wins, flags kept', async () => {
  const dir = await app({ scripts: { start: 'node --enable-source-maps dist/main.js --port=1' }, main: 'other.js' }, ['dist/main.js', 'other.js']);
  assert.deepEqual(await readNodeApp(dir, all), { args: ['--enable-source-maps', 'dist/main.js', '--port=1'], from: 'scripts.start', hasDependencies: false });
});

test('a start script that needs a shell falls back to main, then server.js, then index.js', async () => {
  const withMain = await app({ scripts: { start: 'npm run build && node x.js' }, main: 'lib/app' }, ['lib/app.js']);
  assert.deepEqual((await readNodeApp(withMain, all)).args, ['lib/app.js']);
  const withDirMain = await app({ main: 'lib' }, ['lib/index.js']);
  assert.deepEqual((await readNodeApp(withDirMain, all)).args, ['lib/index.js']);
  const server = await app({ scripts: { start: 'NODE_OPTIONS=1 node s.js' } }, ['server.js', 'index.js']);
  assert.deepEqual(await readNodeApp(server, all), { args: ['server.js'], from: 'server.js', hasDependencies: false });
  const index = await app({ dependencies: { x: '1' } }, ['index.js']);
  assert.deepEqual(await readNodeApp(index, all), { args: ['index.js'], from: 'index.js', hasDependencies: true });
});

test('config.port becomes the port', async () => {
  const dir = await app({ config: { port: '3000' } }, ['server.js']);
  assert.equal((await readNodeApp(dir, all)).port, 3000);
});

test('errors name package.json and the field', async () => {
  const cases: [unknown, string[], RegExp][] = [
    [undefined, [], /package\.json' must exist: got ENOENT/],
    ['{not json', [], /package\.json' must be a JSON object/],
    ['[]', [], /package\.json' must be a JSON object/],
    [{ scripts: { start: 'node missing.js' } }, [], /package\.json 'scripts\.start' must be a `node FILE` command whose FILE is in the app: got "node missing\.js"/],
    [{ scripts: { start: 7 } }, [], /'scripts\.start' must be a string: got 7/],
    [{ main: 'nope.js' }, [], /package\.json 'main' must be a file in the app .*: got "nope\.js"/],
    [{ main: 5 }, [], /'main' must be a non-empty string: got 5/],
    [{ main: '../outside.js' }, [], /'main' must be a file in the app/],
    [{}, ['app.js'], /'scripts\.start' must be a plain `node FILE` command, or 'main' a file, or server\.js or index\.js exist: got nothing/],
    [{ config: { port: 70000 } }, ['server.js'], /'config\.port' must be a port number 1-65535: got 70000/],
  ];
  for (const [pkg, files, message] of cases) {
    const dir = await app(pkg, files);
    await assert.rejects(readNodeApp(dir, all), (err: unknown) => isAloftError(err, 'BUILD_FAILED') && message.test(err.message), JSON.stringify(pkg));
  }
});

test('a start file the ignore file leaves out is an error, not a broken image', async () => {
  const dir = await app({ scripts: { start: 'node server.js' } }, ['server.js']);
  await assert.rejects(readNodeApp(dir, (rel) => rel !== 'server.js'), /'scripts\.start' must be a `node FILE` command whose FILE is in the app/);
});
