import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { access, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ImageStore, prepareRootfs, releaseRootfs, writeDockerArchive, type ResolvedImage } from '../../src/image/index.ts';
import { machineId } from '../../src/lib/ids.ts';
import { buildHelloImage } from './build.ts';

// Running the image needs root (chroot, overlay mount) and chroot(8) on the host.
const CHROOT = ['/usr/sbin/chroot', '/usr/bin/chroot', '/sbin/chroot'].find((path) => existsSync(path));
const skip = process.getuid?.() !== 0 ? 'needs root for chroot and mount' : CHROOT === undefined ? 'needs chroot(8)' : false;

let base: string;
let layout: string;
let images: ImageStore;
let image: ResolvedImage;

before(async () => {
  base = await mkdtemp(join(tmpdir(), 'aloft-hello-'));
  layout = await buildHelloImage(join(base, 'hello'));
  images = new ImageStore(join(base, 'images'));
  image = await images.resolve(layout);
});
after(() => rm(base, { recursive: true, force: true }));

test('the hello image has the config the platform expects', async () => {
  assert.deepEqual([image.registry, image.repository, image.tag], ['local', 'hello', 'latest']);
  assert.deepEqual(image.config, { entrypoint: ['/bin/sh', '/entrypoint.sh'], cmd: [], env: ['PATH=/bin'], workingDir: '/', user: '', exposedPorts: [8080] });
  // Reproducible: building again gives the same manifest.
  await buildHelloImage(join(base, 'again'));
  assert.equal((await images.resolve(join(base, 'again'))).digest, image.digest);
});

test('its docker-archive form resolves to the same config', async () => {
  const file = join(base, 'hello.tar');
  await writeDockerArchive(layout, file, { repository: 'hello', format: 'legacy' });
  const fromArchive = await images.resolve(file);
  assert.deepEqual(fromArchive.config, image.config);
  assert.deepEqual([fromArchive.repository, fromArchive.tag], ['hello', 'latest']);
});

test('the unpacked image runs: httpd serves a page naming the app, machine, region and IP', { skip }, async () => {
  const root = await images.unpack(image.digest);
  const machineDir = join(base, 'machines', 'm1');
  const rootfs = await prepareRootfs(root, machineDir);
  const id = machineId();
  const port = await freePort();
  // A sandbox always gives the Machine a /dev; this bare chroot gets the one file the
  // entrypoint's shell needs (ash points a background job's stdin at /dev/null).
  await mkdir(join(rootfs, 'dev'), { recursive: true });
  await writeFile(join(rootfs, 'dev', 'null'), '');
  execFileSync('mount', ['--bind', '/dev/null', join(rootfs, 'dev', 'null')]);
  const child = spawn(CHROOT as string, [rootfs, ...image.config.entrypoint, ...image.config.cmd], {
    env: { PATH: '/bin', FLY_APP_NAME: 'hello', FLY_MACHINE_ID: id, FLY_REGION: 'local', FLY_PRIVATE_IP: 'fdaa:0:1::3', PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  // Settles on exit, or on a failed spawn: either way the server is gone.
  const exited = once(child, 'exit').catch((err: unknown) => err);
  try {
    await waitForPort(port, exited, () => output);
    const response = await fetch(`http://127.0.0.1:${port}/`);
    const body = await response.text();
    assert.equal(response.status, 200);
    assert.equal(body.trim(), `Hello from aloft! app=hello machine=${id} region=local private_ip=fdaa:0:1::3`);
    // The page went to this machine's overlay, not into the shared image.
    await assert.rejects(access(join(root, 'www', 'index.html')));
    // The entrypoint stays PID 1 and forwards SIGTERM, so a stop ends it cleanly.
    process.kill(child.pid!, 'SIGTERM');
    assert.deepEqual(await exited, [0, null]);
  } finally {
    if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGKILL');
    await exited;
    execFileSync('umount', ['-l', join(rootfs, 'dev', 'null')]);
    await releaseRootfs(machineDir);
  }
});

/** A port the kernel just handed out and released: free, barring a race we accept. */
async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  await once(server, 'close');
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/**
 * Resolves once something accepts on the port. The entrypoint execs httpd, which binds
 * soon after; each refused connect is answered by the next attempt (a failed connect
 * takes a loop turn, not a timer), and an early exit of the server fails at once.
 */
async function waitForPort(port: number, exited: Promise<unknown>, output: () => string): Promise<void> {
  let done = false;
  void exited.then(() => (done = true));
  const deadline = Date.now() + 10_000;
  while (!done && Date.now() < deadline) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((resolve) => setImmediate(resolve));
  }
  throw new Error(`hello did not listen on ${port}${done ? ' (it exited)' : ''}: ${output()}`);
}
