/**
 * bench runtime, the `oci` (runsc) part: create→first 200 and stop through OciDriver,
 * beside raw `runsc run --detach` of the same bundle in the same kind of netns;
 * checkpoint resume→first 200; and N idle Machines' memory.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, openSync, readFileSync, readdirSync, rmdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { OciDriver, placeFiles, writeBundle } from '../src/runtime/index.ts';
import { hostMemory, processTree, readPid, treeMemory } from './_runtime-memory.ts';
import { median, round, type BenchMachine, type BenchWorld } from './_runtime-world.ts';

const CGROUP_PARENT = '/aloft-bench-rt';
const RAW_CGROUP_PARENT = '/aloft-bench-rt-raw';
/** The hello entrypoint prints this once httpd is about to listen. */
const SERVING = /^hello: serving on port/m;

/** What the oci part measured (ms and MB). */
export type OciFigures = Record<string, number | string>;

/** Runs every oci phase; `runs` of each timed one, `idle` Machines for the memory one. */
export async function benchOci(world: BenchWorld, runs: number, idle: number): Promise<OciFigures> {
  const stateRoot = join(world.work, 'runsc');
  const recordRoot = join(world.work, 'runsc-records');
  const driver = new OciDriver({ runtime: 'runsc', stateRoot, recordRoot, cgroupParent: CGROUP_PARENT });
  // Checkpoint resume needs a Machine with no TCP history for the quiet period (runsc
  // refuses to checkpoint any endpoint, even in TIME_WAIT): a short period, and no GET before.
  const quick = new OciDriver({ runtime: 'runsc', stateRoot, recordRoot, cgroupParent: CGROUP_PARENT, suspendQuietMs: 1_000 });
  await driver.check();
  world.onCleanup(async () => {
    for (const id of await driver.list().catch(() => [])) {
      await driver.stop(id, { signal: 'SIGKILL', timeoutMs: 10_000 }).catch(() => undefined);
      await driver.remove(id).catch(() => undefined);
    }
    removeCgroupParent(CGROUP_PARENT);
  });

  const start: number[] = [];
  const returned: number[] = [];
  const stop: number[] = [];
  for (let i = 0; i < runs; i++) {
    const m = await world.machine();
    const t0 = performance.now();
    await driver.start(m.spec);
    returned.push(performance.now() - t0);
    start.push((await world.until200(m.url)) - t0);
    const t1 = performance.now();
    await driver.stop(m.id, { signal: 'SIGTERM', timeoutMs: 10_000 });
    stop.push(performance.now() - t1);
    await driver.remove(m.id);
    await world.release(m);
  }

  const raw = await rawRunsc(world, runs);

  const resume: number[] = [];
  const resumeHow = new Set<string>();
  for (let i = 0; i < runs; i++) {
    const m = await world.machine();
    await quick.start(m.spec);
    await untilInLog(world, m.spec.logPath, SERVING);
    const outcome = await quick.suspend(m.id);
    resumeHow.add(outcome.how === 'paused' ? `paused (${outcome.reason})` : 'checkpointed');
    const t0 = performance.now();
    if (outcome.how === 'checkpointed') await quick.restoreFromSuspend(m.id);
    else await quick.resume(m.id);
    resume.push((await world.until200(m.url)) - t0);
    await quick.stop(m.id, { signal: 'SIGKILL', timeoutMs: 10_000 });
    await quick.remove(m.id);
    await world.release(m);
  }

  const memory = await idleMachines(world, driver, recordRoot, idle);
  process.stderr.write(
    `oci driver start→200 (ms): ${start.map((x) => round(x)).join(' ')}\n` +
      `oci driver start resolved (ms): ${returned.map((x) => round(x)).join(' ')}\n` +
      `oci raw runsc run→200 (ms): ${raw.start.map((x) => round(x)).join(' ')}\n` +
      `oci driver stop (ms): ${stop.map((x) => round(x)).join(' ')}\n` +
      `oci raw runsc kill TERM→stopped (ms): ${raw.stop.map((x) => round(x)).join(' ')}\n` +
      `oci resume→200 (ms, ${[...resumeHow].join('; ')}): ${resume.map((x) => round(x)).join(' ')}\n`,
  );
  const startMs = median(start);
  const rawMs = median(raw.start);
  return {
    oci_start_ms: round(startMs),
    oci_raw_start_ms: round(rawMs),
    oci_overhead_ratio: round(startMs / rawMs, 2),
    oci_start_resolved_ms: round(median(returned)),
    oci_stop_ms: round(median(stop)),
    oci_raw_stop_ms: round(median(raw.stop)),
    oci_resume_ms: round(median(resume)),
    oci_resume_how: [...resumeHow].join('; '),
    ...memory,
  };
}

/**
 * Raw runsc: the same RunSpec's bundle, written by the same writeBundle, its files
 * placed and its netns made before the clock starts; then `runsc run --detach` (behind
 * the HOST.md workaround the driver also needs) → first 200, and `runsc kill TERM` →
 * `runsc state` no longer running.
 */
async function rawRunsc(world: BenchWorld, runs: number): Promise<{ start: number[]; stop: number[] }> {
  const stateRoot = join(world.work, 'raw-runsc');
  const ids: string[] = [];
  world.onCleanup(async () => {
    for (const id of ids) spawnSync('runsc', ['--root', stateRoot, 'delete', '--force', id], { stdio: 'ignore', timeout: 30_000 });
    removeCgroupParent(RAW_CGROUP_PARENT);
  });
  const start: number[] = [];
  const stop: number[] = [];
  for (let i = 0; i < runs; i++) {
    const m: BenchMachine = await world.machine();
    ids.push(m.id);
    await placeFiles(m.spec.rootfs, m.spec.files);
    const bundle = await writeBundle(m.spec, join(m.spec.workDir, 'bundle'), { runtime: 'runsc', cgroupsPath: `${RAW_CGROUP_PARENT}/${m.id}` });
    const hide = 'ns=$1; shift; nsenter --net="$ns" mount -t tmpfs hide /proc/sys/net/core && exec "$@"';
    // The detached sandbox inherits stdout/stderr: a file, not a pipe spawnSync would wait on.
    const log = openSync(m.spec.logPath, 'a');
    const t0 = performance.now();
    const run = spawnSync('unshare', ['-m', '--propagation', 'private', 'sh', '-c', hide, 'hide', m.spec.netnsPath!, 'runsc', '--root', stateRoot, '--network=sandbox', 'run', '--detach', '--bundle', bundle, m.id], {
      stdio: ['ignore', log, log],
      timeout: 60_000,
    });
    closeSync(log);
    if (run.status !== 0) throw new Error(`raw runsc run failed: ${readFileSync(m.spec.logPath, 'utf8').slice(-500)}`);
    start.push((await world.until200(m.url)) - t0);
    const t1 = performance.now();
    spawnSync('runsc', ['--root', stateRoot, 'kill', m.id, 'TERM'], { stdio: 'ignore', timeout: 15_000 });
    for (;;) {
      world.check('raw runsc stop');
      const state = spawnSync('runsc', ['--root', stateRoot, 'state', m.id], { encoding: 'utf8', timeout: 15_000 });
      if (state.status !== 0 || !/"status":\s*"running"/.test(state.stdout)) break;
      await new Promise((r) => setTimeout(r, 5));
    }
    stop.push(performance.now() - t1);
    spawnSync('runsc', ['--root', stateRoot, 'delete', '--force', m.id], { stdio: 'ignore', timeout: 30_000 });
    ids.splice(ids.indexOf(m.id), 1);
    await world.release(m);
  }
  return { start, stop };
}

/**
 * Starts `count` Machines (a few at a time), checks each serves, lets them settle, then
 * sums the memory of each one's processes (its monitor and everything below it: the
 * runsc run, gofer and sandbox) and watches the host's swap; then removes them all.
 */
async function idleMachines(world: BenchWorld, driver: OciDriver, recordRoot: string, count: number): Promise<OciFigures> {
  if (count <= 0) return {};
  const concurrency = Math.max(1, Number(process.env['ALOFT_BENCH_IDLE_CONCURRENCY'] ?? 4));
  const before = await hostMemory();
  const machines: BenchMachine[] = [];
  let next = 0;
  const startOne = async (): Promise<void> => {
    while (next < count) {
      next++;
      const m = await world.machine();
      machines.push(m);
      await driver.start(m.spec);
      await world.until200(m.url);
    }
  };
  const t0 = performance.now();
  try {
    await Promise.all(Array.from({ length: concurrency }, startOne));
    const startedMs = performance.now() - t0;
    // Idle: let start-up garbage be freed before reading.
    await new Promise((r) => setTimeout(r, 3_000));
    let rssKb = 0;
    let pssKb = 0;
    const kinds = new Map<string, number>();
    for (const m of machines) {
      const monitor = await readPid(join(recordRoot, m.id, 'monitor.pid'));
      if (monitor === null) throw new Error(`bench runtime: machine ${m.id} has no monitor pid`);
      const tree = await treeMemory(await processTree(monitor));
      rssKb += tree.rssKb;
      pssKb += tree.pssKb;
      for (const name of tree.names) kinds.set(name, (kinds.get(name) ?? 0) + 1);
    }
    const during = await hostMemory();
    const cgroupBytes = await readFile(`/sys/fs/cgroup/memory${CGROUP_PARENT}/memory.usage_in_bytes`, 'utf8').then(Number, () => NaN);
    // Every Machine must still serve: idle must not mean dead.
    for (const m of machines) await world.until200(m.url);
    process.stderr.write(`oci idle: ${machines.length} machines started in ${round(startedMs / 1000)} s; processes per tree: ${[...kinds].map(([k, v]) => `${k}×${v}`).join(', ')}\n`);
    const n = machines.length;
    return {
      idle_machines: n,
      idle_start_all_s: round(startedMs / 1000),
      oci_idle_rss_mb: round(rssKb / 1024 / n),
      oci_idle_pss_mb: round(pssKb / 1024 / n),
      oci_idle_cgroup_mb: round(cgroupBytes / 2 ** 20 / n),
      oci_idle_memavailable_drop_mb: round((before.availableKb - during.availableKb) / 1024 / n),
      host_memavailable_idle_mb: round(during.availableKb / 1024),
      swap_total_mb: round(during.swapTotalKb / 1024),
      swap_used_mb: round(during.swapUsedKb / 1024),
      swapped_out_pages: during.swappedOutPages - before.swappedOutPages,
    };
  } finally {
    // Removed here even when the phase failed: the world's clean-up would too, but slower.
    let i = 0;
    const removeOne = async (): Promise<void> => {
      while (i < machines.length) {
        const m = machines[i++]!;
        await driver.stop(m.id, { signal: 'SIGKILL', timeoutMs: 10_000 }).catch(() => undefined);
        await driver.remove(m.id).catch(() => undefined);
        await world.release(m);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, removeOne));
  }
}

/** Polls a Machine's log until `pattern` shows. Bounded by the bench deadline. */
async function untilInLog(world: BenchWorld, logPath: string, pattern: RegExp): Promise<void> {
  while (!pattern.test(await readFile(logPath, 'utf8').catch(() => ''))) {
    world.check(`waiting for ${pattern} in ${logPath}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** runsc removes each run's cgroup but not the parent it made in every controller. */
function removeCgroupParent(parent: string): void {
  for (const controller of readdirSync('/sys/fs/cgroup')) {
    try {
      rmdirSync(join('/sys/fs/cgroup', controller, parent));
    } catch {
      // absent in this controller, or still in use (reported by the leftover check)
    }
  }
}
