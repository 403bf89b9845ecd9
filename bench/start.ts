/**
 * bench start: how long from `POST /v1/apps/hello/machines` to the first HTTP 200
 * through the proxy (median of 10), beside how long raw `runsc run` takes to the first
 * 200 for the same bundle, measured in the same run.
 *
 * The reference is the floor aloft builds on: the bundle, root filesystem and network
 * namespace are made before its clock starts, and it runs `runsc run --detach` with the
 * workaround any runsc needs on this kernel (HOST.md) and polls the Machine's own IP.
 * aloft's figure adds everything a user waits for: API, store, agent, overlay root,
 * netns, bundle, the exit monitor, and the proxy's route update.
 *
 * Needs root, runsc and busybox-static. Bounded: gives up after 4 minutes.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildHelloImage } from '../examples/hello/build.ts';
import { helloMachineConfig } from '../examples/hello/app.ts';
import { buildRunSpec } from '../src/agent/run-spec.ts';
import { ApiClient, type MachineView } from '../src/cli/api-client.ts';
import { ImageStore, prepareRootfs, releaseRootfs } from '../src/image/index.ts';
import { httpGet } from '../src/lib/http-get.ts';
import { createLogger } from '../src/lib/log.ts';
import { machineId } from '../src/lib/ids.ts';
import type { Machine } from '../src/model/index.ts';
import { LinuxHostNetwork, machineIpv4, machineIpv6, parseIpv4Subnet } from '../src/net/index.ts';
import { defaultSettings, startEmbeddedPlatform } from '../src/platform/index.ts';
import { writeBundle } from '../src/runtime/index.ts';

const RUNS = 10;
const DEADLINE = Date.now() + 4 * 60_000;
const BRIDGE = 'altbench0';
const SUBNET = '172.31.254.0/24';

const median = (xs: number[]): number => {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};
const round = (x: number): number => Math.round(x * 10) / 10;

/** Polls until `url` answers 200; returns the time it did. Bounded by the bench deadline. */
async function until200(url: string, host?: string): Promise<number> {
  for (;;) {
    if (Date.now() > DEADLINE) throw new Error(`bench start: no 200 from ${url} before the deadline`);
    const ok = await httpGet(url, { ...(host ? { host } : {}), timeoutMs: 2000 }).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) return performance.now();
    await new Promise((r) => setTimeout(r, 2));
  }
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('bench start needs root (it runs runsc and makes network namespaces)');
  const work = await mkdtemp(join(tmpdir(), 'aloft-bench-start-'));
  const settings = { ...defaultSettings(), dataDir: join(work, 'data'), apiPort: 0, proxyPort: 0, registryPort: 0, bridge: BRIDGE, ipv4Subnet: SUBNET, hostNumber: 4242 };
  const platform = await startEmbeddedPlatform(settings, createLogger({ level: process.env['ALOFT_LOG'] ?? 'warn' }));
  const rawIds: string[] = [];
  const network = new LinuxHostNetwork({ bridge: BRIDGE, ipv4Subnet: SUBNET });
  try {
    const client = new ApiClient({ baseUrl: platform.apiUrl, token: platform.token });
    const imagePath = await buildHelloImage(join(work, 'hello'));
    await client.post('/apps', { app_name: 'hello' });
    const config = helloMachineConfig(imagePath);

    // aloft: POST → first 200 through the proxy.
    const aloft: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const t0 = performance.now();
      const machine = await client.post<MachineView>('/apps/hello/machines', { config });
      aloft.push((await until200(`${platform.proxyUrl}/`, 'hello.localhost')) - t0);
      await client.delete(`/apps/hello/machines/${machine.id}?force=true`);
      await client.get(`/apps/hello/machines/${machine.id}/wait?state=destroyed&timeout=60`);
    }

    // Raw runsc: the same image, root and bundle, prepared beforehand; `runsc run` → first 200.
    const images = new ImageStore(join(work, 'raw-images'));
    const image = await images.resolve(imagePath);
    const imageRoot = await images.unpack(image.digest);
    const stateRoot = join(work, 'raw-runsc');
    const raw: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const id = machineId();
      rawIds.push(id);
      const machineDir = join(work, 'raw', id);
      await mkdir(machineDir, { recursive: true });
      const addresses = { ipv4: machineIpv4(parseIpv4Subnet(SUBNET), 200 + i), ipv6: machineIpv6(99, 4242, 200 + i) };
      const { netnsPath } = await network.attach(id, addresses);
      const rootfs = await prepareRootfs(imageRoot, machineDir);
      const machine = { id, appName: 'hello', region: 'local', instanceId: 'raw', config, imageRef: { registry: 'local', repository: 'hello', tag: 'latest', digest: image.digest }, addresses } as unknown as Machine;
      const spec = buildRunSpec({ machine, image: image.config, user: { uid: 0, gid: 0, additionalGids: [] }, rootfs, machineDir, netnsPath });
      const bundle = await writeBundle(spec, join(machineDir, 'bundle'), { runtime: 'runsc', cgroupsPath: `/aloft-bench/${id}` });
      const hide = 'ns=$1; shift; nsenter --net="$ns" mount -t tmpfs hide /proc/sys/net/core && exec "$@"';
      // The detached sandbox inherits stdout/stderr: give it a file, not a pipe that
      // spawnSync would wait on forever.
      const log = openSync(join(machineDir, 'runsc.log'), 'a');
      const t0 = performance.now();
      const run = spawnSync('unshare', ['-m', '--propagation', 'private', 'sh', '-c', hide, 'hide', netnsPath, 'runsc', '--root', stateRoot, '--network=sandbox', 'run', '--detach', '--bundle', bundle, id], { stdio: ['ignore', log, log] });
      closeSync(log);
      if (run.status !== 0) throw new Error(`raw runsc run failed: ${readFileSync(join(machineDir, 'runsc.log'), 'utf8')}`);
      raw.push((await until200(`http://${addresses.ipv4}:8080/`)) - t0);
      spawnSync('runsc', ['--root', stateRoot, 'kill', id, 'KILL']);
      spawnSync('runsc', ['--root', stateRoot, 'delete', '--force', id]);
      await releaseRootfs(machineDir);
      await network.detach(id);
    }

    const startMs = median(aloft);
    const rawMs = median(raw);
    process.stderr.write(`aloft POST→200 (ms): ${aloft.map(round).join(' ')}\nraw runsc run→200 (ms): ${raw.map(round).join(' ')}\n`);
    const meminfo = (await readFile('/proc/cpuinfo', 'utf8')).match(/model name\s*:\s*(.*)/)?.[1] ?? 'unknown';
    console.log(JSON.stringify({ bench: 'start', runs: RUNS, start_ms: round(startMs), raw_runsc_ms: round(rawMs), ratio: Math.round((startMs / rawMs) * 100) / 100, start_p90_ms: round([...aloft].sort((a, b) => a - b)[8]!), raw_p90_ms: round([...raw].sort((a, b) => a - b)[8]!), cpu: meminfo }));
  } finally {
    for (const id of rawIds) {
      spawnSync('runsc', ['--root', join(work, 'raw-runsc'), 'delete', '--force', id], { stdio: 'ignore' });
      await releaseRootfs(join(work, 'raw', id)).catch(() => undefined);
      await network.detach(id).catch(() => undefined);
    }
    await platform.stop({ stopMachines: true }).catch((err: unknown) => process.stderr.write(`bench start: platform stop failed: ${String(err)}\n`));
    spawnSync('ip', ['link', 'del', BRIDGE], { stdio: 'ignore' });
    // runsc removes each run's cgroup; the bench's parent is left in every controller.
    spawnSync('sh', ['-c', 'rmdir /sys/fs/cgroup/*/aloft-bench'], { stdio: 'ignore' });
    await rm(work, { recursive: true, force: true });
  }
}

await main();
