import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { isAloftError } from '../lib/errors.ts';
import { launchAppName } from './app-name.ts';
import { detectProject } from './detect.ts';
import { exposedPort } from './exposed-port.ts';

test('EXPOSE: the first port of the final stage, with protocols, continuations and comments', () => {
  assert.equal(exposedPort('FROM node\nEXPOSE 3000\n'), 3000);
  assert.equal(exposedPort('from node\nexpose 5000/tcp 6000\n'), 5000);
  assert.equal(exposedPort('FROM a AS build\nEXPOSE 9999\nFROM b\n# EXPOSE 1111\nEXPOSE \\\n  4000\n'), 4000);
  assert.equal(exposedPort('FROM a\nEXPOSE 9999\nFROM b\n'), undefined, 'a build stage does not count');
  assert.equal(exposedPort('FROM a\nEXPOSE $PORT\n'), undefined);
  assert.equal(exposedPort('FROM a\nEXPOSE 70000\n'), undefined);
});

test('app names: --name as given (checked), else the directory made into one', () => {
  assert.equal(launchAppName('/x/My Site_2', undefined), 'my-site-2');
  assert.equal(launchAppName('/x/whatever', 'shop'), 'shop');
  assert.throws(() => launchAppName('/x/y', 'Bad_Name'), /Cannot launch as '--name' must be lowercase letters, digits and dashes, 2 to 63 long, not starting with a dash: got "Bad_Name"/);
  assert.throws(() => launchAppName('/x/_', undefined), (err: unknown) => isAloftError(err, 'INVALID_ARGUMENT'));
});

describe('detectProject', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'aloft-launch-detect-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('a Dockerfile wins over package.json; its EXPOSE is the port, else 8080', async () => {
    await writeFile(join(dir, 'package.json'), '{"main":"server.js"}');
    await writeFile(join(dir, 'Dockerfile'), 'FROM node\nEXPOSE 3000\n');
    assert.deepEqual(await detectProject(dir), { kind: 'dockerfile', source: 'Dockerfile', internalPort: 3000, portFrom: 'EXPOSE in Dockerfile', dockerfile: 'Dockerfile', env: {} });
    await writeFile(join(dir, 'Dockerfile'), 'FROM node\n');
    assert.equal((await detectProject(dir)).internalPort, 8080);
  });

  test('a Node app: config.port, else PORT read by the entry (set to 8080), else a literal listen()', async () => {
    await writeFile(join(dir, 'package.json'), JSON.stringify({ scripts: { start: 'node server.js' } }));
    await writeFile(join(dir, 'server.js'), "require('http').createServer().listen(process.env.PORT || 3000);\n");
    assert.deepEqual(await detectProject(dir), { kind: 'node', source: 'package.json', internalPort: 8080, portFrom: 'process.env.PORT in server.js', env: { PORT: '8080' } });
    await writeFile(join(dir, 'server.js'), "require('http').createServer().listen(4567);\n");
    assert.deepEqual(await detectProject(dir), { kind: 'node', source: 'package.json', internalPort: 4567, portFrom: 'listen(4567) in server.js', env: {} });
    await writeFile(join(dir, 'package.json'), JSON.stringify({ main: 'server.js', config: { port: 5001 } }));
    assert.deepEqual(await detectProject(dir), { kind: 'node', source: 'package.json', internalPort: 5001, portFrom: 'package.json config.port', env: {} });
  });

  test('a static site: index.html here or in public/, dist/…', async () => {
    await mkdir(join(dir, 'dist'));
    await writeFile(join(dir, 'dist', 'index.html'), '<h1>hi</h1>');
    const found = await detectProject(dir);
    assert.deepEqual([found.kind, found.source, found.staticRoot, found.internalPort, found.dockerfile], ['static', 'dist/index.html', 'dist', 8080, 'Dockerfile']);
    await writeFile(join(dir, 'index.html'), '<h1>root</h1>');
    assert.equal((await detectProject(dir)).staticRoot, '.');
  });

  test('an empty directory is a clear error naming what was looked for', async () => {
    await assert.rejects(detectProject(dir), (err: unknown) => {
      assert.ok(isAloftError(err, 'INVALID_ARGUMENT'));
      assert.match(err.message, /Cannot launch an app as '.*' must hold a Dockerfile, a package.json or an index.html: got none of Dockerfile, Containerfile, package.json, index.html, public\/index.html/);
      return true;
    });
  });
});
