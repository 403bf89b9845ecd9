/**
 * `aloft launch` as a user runs it, in project directories, against a real API over
 * HTTP (in process, on a SQLite store): it detects the project, creates the app, writes
 * an aloft.toml that `aloft config validate` reads without a warning (and the static
 * site's Dockerfile), and refuses what it must without creating or writing anything.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createApiApp, listenApi } from '../../src/api/index.ts';
import { fakeImages } from '../../src/api/testing/fake-images.ts';
import { loadAppConfig, machineConfigsFor } from '../../src/config/index.ts';
import { singleHostScheduler } from '../../src/scheduler/testing.ts';
import { openSqliteStore, type Store } from '../../src/store/index.ts';
import { fails, json, runAloft, type Run } from './cli-runner.ts';

const OPERATOR = 'cli-launch-operator-token';

describe('aloft launch', () => {
  let store: Store;
  let api: Awaited<ReturnType<typeof listenApi>>;
  let root: string;

  const aloft = (args: string[], cwd: string): Promise<Run> =>
    runAloft(args, { ALOFT_API_URL: `http://127.0.0.1:${api.port}`, ALOFT_API_TOKEN: OPERATOR }, cwd);

  /** A fresh project directory named `name` holding `files`. */
  const project = (name: string, files: Record<string, string>): string => {
    const dir = join(root, name);
    for (const [path, content] of Object.entries(files)) {
      mkdirSync(join(dir, path, '..'), { recursive: true });
      writeFileSync(join(dir, path), content);
    }
    mkdirSync(dir, { recursive: true });
    return dir;
  };

  before(async () => {
    store = await openSqliteStore({ path: ':memory:' });
    api = await listenApi(createApiApp({ store, images: fakeImages, scheduler: singleHostScheduler(), token: OPERATOR, rateLimits: false }), { host: '127.0.0.1', port: 0 });
    root = mkdtempSync(join(tmpdir(), 'aloft-cli-launch-'));
  });
  after(async () => {
    await api.close();
    await store.close();
    rmSync(root, { recursive: true, force: true });
  });

  test('a Dockerfile project: the app is created and aloft.toml builds its Dockerfile on the EXPOSEd port', async () => {
    const dir = project('shop-api', { Dockerfile: 'FROM node:20\nEXPOSE 3000\nCMD ["node", "server.js"]\n' });
    const run = await aloft(['launch', '--region', 'ams'], dir);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /Found a Dockerfile \(Dockerfile\); it listens on port 3000 \(EXPOSE in Dockerfile\)\./);
    assert.match(run.stdout, /Created app shop-api in org personal; wrote aloft\.toml/);
    assert.equal((await store.getApp('shop-api'))?.orgSlug, 'personal');

    const validate = await aloft(['config', 'validate'], dir);
    assert.equal(validate.code, 0, validate.stderr);
    assert.match(validate.stdout, /aloft\.toml is valid$/m);
    const { config } = loadAppConfig(join(dir, 'aloft.toml'));
    assert.equal(config.app, 'shop-api');
    assert.equal(config.primary_region, 'ams');
    assert.equal(config.build?.dockerfile, 'Dockerfile');
    assert.equal(config.http_service?.internal_port, 3000);
    const [machine] = machineConfigsFor(config, { image: 'shop-api:latest' });
    assert.equal(machine?.config.services?.[0]?.internal_port, 3000);
    assert.deepEqual(readdirSync(dir).sort(), ['Dockerfile', 'aloft.toml'], 'no temporary file left');
  });

  test('a Node app that reads PORT gets port 8080 and PORT in [env]; --name and --json', async () => {
    const dir = project('node-thing', {
      'package.json': JSON.stringify({ name: 'x', scripts: { start: 'node server.js' } }),
      'server.js': "require('node:http').createServer((q, s) => s.end('hi')).listen(process.env.PORT);\n",
    });
    const out = json<{ app: string; project: { kind: string; internalPort: number; env: Record<string, string> }; wrote: string[] }>(
      await aloft(['launch', '--name', 'my-node', '--json'], dir),
    );
    assert.deepEqual([out.app, out.project.kind, out.project.internalPort, out.project.env, out.wrote], ['my-node', 'node', 8080, { PORT: '8080' }, ['aloft.toml']]);
    const { config, warnings } = loadAppConfig(join(dir, 'aloft.toml'));
    assert.deepEqual(warnings, []);
    assert.equal(config.env?.['PORT'], '8080');
    assert.equal(config.primary_region, 'local');
    assert.equal(config.build?.dockerfile, undefined, 'built from package.json');
  });

  test('a static site: the Dockerfile that serves it is written beside aloft.toml', async () => {
    const dir = project('docs-site', { 'public/index.html': '<h1>docs</h1>' });
    const run = await aloft(['launch'], dir);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /Found a static site \(public\/index\.html\); it listens on port 8080/);
    const dockerfile = readFileSync(join(dir, 'Dockerfile'), 'utf8');
    assert.match(dockerfile, /^FROM busybox$/m);
    assert.match(dockerfile, /^COPY public\/ \/www\/$/m);
    assert.match(dockerfile, /httpd -f -v -p 8080 -h \/www/);
    assert.equal(loadAppConfig(join(dir, 'aloft.toml')).config.http_service?.internal_port, 8080);
  });

  test('an existing fly.toml or aloft.toml is not overwritten without --force', async () => {
    const dir = project('has-config', { Dockerfile: 'FROM x\n', 'fly.toml': 'app = "old"\n' });
    fails(await aloft(['launch'], dir), /Cannot launch as '.*fly\.toml' must be absent \(pass --force to write aloft\.toml anyway\): got "an existing file"/);
    assert.equal(await store.getApp('has-config'), undefined, 'no app created');
    assert.equal(existsSync(join(dir, 'aloft.toml')), false);
    assert.equal((await aloft(['launch', '--force'], dir)).code, 0);
    assert.equal(readFileSync(join(dir, 'fly.toml'), 'utf8'), 'app = "old"\n', 'fly.toml left as it was');
    fails(await aloft(['launch', '--name', 'has-config-2'], dir), /aloft\.toml' must be absent/);
  });

  test('refusals create and write nothing: an empty dir, a bad name or region, a taken name', async () => {
    const empty = project('empty-one', {});
    fails(await aloft(['launch'], empty), /Cannot launch an app as '.*empty-one' must hold a Dockerfile, a package.json or an index.html/);
    const dir = project('web-two', { 'index.html': 'hi' });
    fails(await aloft(['launch', '--name', 'Not_Valid'], dir), /Cannot launch as '--name' must be lowercase letters, digits and dashes/);
    await store.createApp({ id: 'taken1', name: 'taken', orgSlug: 'personal', network: 9, status: 'pending', createdAt: Date.now() });
    fails(await aloft(['launch', '--name', 'taken'], dir), /Cannot launch as app name 'taken' must be free: got an existing app \(pick another with --name\)/);
    fails(await aloft(['launch', '--region', 'Mars!'], dir), /'--region' must be a region code/);
    assert.deepEqual(readdirSync(empty), []);
    assert.deepEqual(readdirSync(dir), ['index.html']);
    assert.equal(await store.getApp('empty-one'), undefined);
    assert.equal(await store.getApp('web-two'), undefined);
  });

  test('--deploy runs aloft deploy in the project; when it fails, the app and aloft.toml stay and the error says so', async () => {
    const dir = project('deploy-fails', { Dockerfile: 'FROM busybox\nEXPOSE 8080\n' });
    // No registry listens there: the deploy's build cannot start, so it fails fast.
    const run = await runAloft(['launch', '--deploy'], { ALOFT_API_URL: `http://127.0.0.1:${api.port}`, ALOFT_API_TOKEN: OPERATOR, ALOFT_REGISTRY_URL: 'http://127.0.0.1:1', ALOFT_DATA_DIR: join(root, 'data') }, dir);
    assert.equal(run.code, 1, run.stdout);
    assert.match(run.stdout, /Created app deploy-fails/);
    assert.match(run.stderr, /Cannot launch as 'aloft deploy' must succeed: got exit code 1 \(the app and aloft\.toml are kept; run aloft deploy again\)/);
    assert.ok(await store.getApp('deploy-fails'));
    assert.ok(existsSync(join(dir, 'aloft.toml')));
  });
});
