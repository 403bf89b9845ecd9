import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { tail } from '../../lib/command.ts';
import { AloftError, invalidField } from '../../lib/errors.ts';
import { silentLogger, type Logger } from '../../lib/log.ts';
import { buildExt4Image } from '../../image/ext4-image.ts';
import { prepareExt4Disk } from '../../image/ext4-disk.ts';
import { writeFilesIntoExt4 } from '../../image/ext4-files.ts';
import { buildGuestInit } from '../../guest/init-binary.ts';
import { buildInitramfs, writeMachineInitrd } from '../../guest/initramfs.ts';
import { GUEST_KERNEL_APPEND } from '../../guest/kernel-cmdline.ts';
import { ensureGuestKernel, type GuestKernel } from '../../guest/kernel.ts';
import { GUEST_PORT_NAME, type GuestMessage } from '../../guest/protocol.ts';
import type { RunConfig } from '../../guest/run-config.ts';
import type { Driver, DriverStatus, ExitStatus, RunSpec, SuspendOutcome } from '../driver.ts';
import type { ExecRequest, ExecResult, ProcessInfo } from '../exec-types.ts';
import { exitStatusFromCode, requireSignalNumber } from '../exit-status.ts';
import { placeFiles } from '../rootfs-files.ts';
import { detectAccel } from './accel.ts';
import { GuestChannel } from './guest-channel.ts';
import { QemuVmm } from './qemu-vmm.ts';
import { readSnapshot, resumeVm, suspendVm } from './snapshot.ts';
import { attachTap, detachTap } from './tap.ts';
import type { Accel, Vmm, VmHandle, VmSpec } from './vmm.ts';

/** Options of {@link MicrovmDriver}. */
export interface MicrovmDriverOptions {
  /** Per-Machine records (VM state, sockets, exit): `<stateRoot>/<id>/`. Keep it short: sockets live there. */
  stateRoot: string;
  /** Guest kernel, init and initramfs cache. */
  cacheDir: string;
  /** Force an accelerator; default: detected once (accel.ts) and cached in `cacheDir`. */
  accel?: Accel;
  vmm?: Vmm;
  /** How long a boot may take to reach the guest init before one retry (default 60 s). */
  bootTimeoutMs?: number;
  log?: Logger;
}

/**
 * RAM the guest kernel and init take for themselves, given to QEMU on top of the
 * Machine's memory limit: measured, a 96 MB guest has 62 MB MemTotal and 25 MB
 * available, and a 64 MB guest does not boot. The limit itself is enforced exactly, and
 * only on the Machine's processes: aloft-init runs them in a guest cgroup whose
 * memory.max is `limits.memoryMb` (an OOM kill there is reported as such), so the VM's
 * RAM is `memoryMb + GUEST_MEMORY_OVERHEAD_MB` while the process gets `memoryMb`, as
 * under the oci driver's cgroup.
 */
export const GUEST_MEMORY_OVERHEAD_MB = 64;

/**
 * The guest channels of this process, by channel socket: QEMU serves one client per
 * chardev socket at a time, so every driver instance in a process shares one connection
 * (a second would wait, unserved, until the first closed). Whoever holds it records the
 * guest's exit report.
 */
const CHANNELS = new Map<string, Promise<GuestChannel>>();

/** Closes every guest channel of this process, as an agent's exit would: for tests of a host that is away. */
export async function dropChannelsForTest(): Promise<void> {
  const all = [...CHANNELS.values()];
  CHANNELS.clear();
  for (const channel of all) (await channel.catch(() => null))?.close();
}

const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const POLL_MS = 25;
const KILL_GRACE_MS = 15_000;
const GUEST_RECHECK_MS = 10 * 60_000;

interface Record {
  dir: string;
  vmDir: string;
  exitFile: string;
  netFile: string;
  specFile: string;
  snapshotDir: string;
}

/**
 * The `microvm` driver: each Machine is a QEMU `-M microvm` guest booting the guest
 * kernel and initramfs (src/guest/), its root an ext4 image of RunSpec.rootfs, its NIC
 * a tap bridged with the netns's eth0 (tap.ts), its process run by aloft-init which
 * reports over the virtio-serial channel. QEMU runs under a detached supervisor
 * (qemu-vmm.ts), and everything a later instance needs is in `<stateRoot>/<id>/`.
 */
export class MicrovmDriver implements Driver {
  readonly name = 'microvm';
  readonly #options: MicrovmDriverOptions;
  readonly #vmm: Vmm;
  readonly #log: Logger;
  #accel: Promise<Accel> | undefined;
  /** The guest kernel and initramfs, looked up at most every GUEST_RECHECK_MS (apt-cache is slow). */
  #guestParts: { at: number; parts: Promise<{ kernel: GuestKernel; initramfs: string }> } | undefined;

  constructor(options: MicrovmDriverOptions) {
    this.#options = options;
    this.#vmm = options.vmm ?? new QemuVmm();
    this.#log = (options.log ?? silentLogger).child({ part: 'runtime', runtime: 'microvm' });
  }

  async check(): Promise<void> {
    await this.#vmm.check();
  }

  async start(spec: RunSpec): Promise<void> {
    const id = checkId(spec.machineId);
    const record = this.#record(id);
    const status = await this.status(id);
    if (status === 'running' || status === 'paused') throw new AloftError('RUNTIME_FAILED', `Cannot start machine ${id} as it is already ${status}`);
    await this.#dropChannel(id);
    await rm(record.exitFile, { force: true });
    await mkdir(record.dir, { recursive: true, mode: 0o700 });
    const started = Date.now();

    const { kernel, initramfs } = await this.#guest();
    const rootImage = join(record.dir, 'rootfs.ext4');
    // Fly resets the root on every start: a fresh copy of the image's disk.
    await rm(rootImage, { force: true });
    if (spec.rootDisk) {
      // The image's cached disk (built once per digest), copied; the placed files go in
      // with debugfs, so nothing is mounted and the shared disk is never written.
      await prepareExt4Disk(spec.rootDisk, record.dir);
      await writeFilesIntoExt4(rootImage, spec.files);
    } else {
      await placeFiles(spec.rootfs, spec.files);
      await buildExt4Image(spec.rootfs, rootImage);
    }
    const net = spec.netnsPath === null ? null : await attachTap(spec.netnsPath, { stateFile: record.netFile });
    const config: RunConfig = {
      hostname: spec.hostname,
      args: spec.process.args,
      env: spec.process.env,
      uid: spec.process.uid,
      gid: spec.process.gid,
      groups: spec.process.additionalGids,
      workdir: spec.process.cwd,
      memoryMb: spec.limits.memoryMb,
      ...(spec.limits.pids === undefined ? {} : { pidsMax: spec.limits.pids }),
      ...(net === null ? {} : { addresses: net.addresses, routes: net.routes }),
    };
    const initrd = join(record.dir, 'initrd');
    await writeMachineInitrd(initramfs, config, initrd);
    const vmSpec: VmSpec = {
      kernel: kernel.vmlinux,
      initrd,
      cmdline: GUEST_KERNEL_APPEND,
      disks: [{ path: rootImage, serial: 'root' }],
      ...(net === null ? {} : { net: { tap: net.tap, mac: net.mac } }),
      channel: { socketPath: join(record.dir, 'ch.sock'), name: GUEST_PORT_NAME },
      consoleLog: spec.logPath,
      controlSocket: join(record.dir, 'qmp.sock'),
      memoryMb: spec.limits.memoryMb + GUEST_MEMORY_OVERHEAD_MB,
      cpus: Math.max(1, Math.ceil(spec.limits.cpus)),
      accel: await this.#detectAccel(kernel.vmlinux),
      netnsPath: spec.netnsPath,
    };
    await writeJson(record.specFile, vmSpec);

    const outcome = await this.#bootUntilStarted(id, vmSpec, record);
    if (outcome !== null) {
      await this.remove(id).catch(() => undefined);
      throw new AloftError('RUNTIME_FAILED', `Cannot start machine ${id} in a microVM as ${outcome}`, { details: { machineId: id } });
    }
    this.#log.info({ machineId: id, ms: Date.now() - started, accel: vmSpec.accel }, 'machine started');
  }

  /** Boots (retrying once when the guest init never speaks: a boot in ~15 hangs under load); null once the process runs. */
  async #bootUntilStarted(id: string, vmSpec: VmSpec, record: Record): Promise<string | null> {
    const timeoutMs = this.#options.bootTimeoutMs ?? 60_000;
    for (let attempt = 1; ; attempt++) {
      const handle = await this.#vmm.boot(vmSpec, record.vmDir);
      const channel = await this.#channel(id, handle);
      const first = await channel.next(['started', 'exit', 'fatal'], timeoutMs);
      if (first?.type === 'started') return null;
      if (first?.type === 'exit') return first.error === undefined ? null : `its process could not run: ${first.error}`;
      if (first?.type === 'fatal') return `the guest init failed: ${first.message}`;
      const heard = channel.lifecycle.length > 0;
      const exited = !(await this.#vmm.isAlive(handle));
      await this.#vmm.kill(handle);
      await this.#dropChannel(id);
      if (exited) {
        const output = await readFile(join(record.vmDir, 'qemu.log'), 'utf8').catch(() => '');
        return `the VM exited before its process started (console in the machine log); QEMU said: ${tail(output) || '(nothing)'}`;
      }
      if (heard || attempt >= 2) return `the guest did not start its process within ${timeoutMs} ms (attempt ${attempt})`;
      this.#log.warn({ machineId: id, timeoutMs }, 'guest boot hung; retrying once');
    }
  }

  async wait(machineId: string): Promise<ExitStatus> {
    return this.#waitExit(checkId(machineId), undefined);
  }

  async signal(machineId: string, signal: string): Promise<void> {
    const id = checkId(machineId);
    const number = requireSignalNumber(signal);
    const channel = await this.#liveChannel(id);
    const reply = await channel.request((rid) => ({ type: 'signal', id: rid, signal: number }), 10_000);
    if (reply.type === 'error') throw new AloftError('RUNTIME_FAILED', `Cannot signal machine ${id}: ${reply.message}`);
  }

  async stop(machineId: string, options: { signal: string; timeoutMs: number }): Promise<ExitStatus> {
    const id = checkId(machineId);
    const status = await this.status(id);
    if (status === 'paused') await this.resume(id);
    else if (status === 'suspended') {
      // Nothing runs and nothing gets a signal: the saved memory is dropped, and the
      // process ended without a status of its own (as runsc reports a dropped checkpoint).
      const ended: ExitStatus = { exitCode: null, signal: null };
      await writeJson(this.#record(id).exitFile, ended);
      await rm(this.#record(id).snapshotDir, { recursive: true, force: true });
      return ended;
    } else if (status !== 'running') return (await readExit(this.#record(id))) ?? { exitCode: null, signal: null };
    if (options.signal !== 'SIGKILL') {
      await this.signal(id, options.signal).catch(() => undefined);
      const graceful = await this.#waitExitWithin(id, options.timeoutMs);
      if (graceful !== null) return graceful;
      this.#log.info({ machineId: id, signal: options.signal, timeoutMs: options.timeoutMs }, 'machine ignored the stop signal; killing its VM');
    }
    // SIGKILL of the main process and of the VM are one here: the Machine is the VM. The
    // exit is recorded first, so a wait in any instance reads it rather than QEMU's quit.
    await writeJson(this.#record(id).exitFile, { exitCode: null, signal: 'SIGKILL' } satisfies ExitStatus);
    const handle = await this.#vmm.adopt(this.#record(id).vmDir);
    if (handle !== null) await this.#vmm.quit(handle, KILL_GRACE_MS);
    return { exitCode: null, signal: 'SIGKILL', killed: true };
  }

  async status(machineId: string): Promise<DriverStatus> {
    const id = checkId(machineId);
    const record = this.#record(id);
    const handle = await this.#vmm.adopt(record.vmDir).catch(() => null);
    if (handle !== null && (await this.#vmm.isAlive(handle))) {
      if ((await readExit(record)) !== null) return 'stopped';
      // Stay connected to every VM we know runs (e.g. after an agent restart), so its
      // exit report is read and recorded whoever asks for it later.
      void this.#channel(id, handle).catch(() => undefined);
      const state = await this.#vmm.state(handle);
      return state === 'exited' ? 'stopped' : state;
    }
    // Suspended to disk: memory kept, nothing runs, `restoreFromSuspend` brings it back.
    if ((await readSnapshot(record.snapshotDir)) !== null) return 'suspended';
    const exists = await readdir(record.dir).then(() => true, () => false);
    return exists ? 'stopped' : 'absent';
  }

  async pause(machineId: string): Promise<void> {
    await this.#vmm.pause(await this.#handle(checkId(machineId)));
  }

  async resume(machineId: string): Promise<void> {
    await this.#vmm.resume(await this.#handle(checkId(machineId)));
  }

  /**
   * Suspends a running Machine to disk (Fly's suspend): QMP stop, its disk copied and
   * its devices and memory saved (zstd) under its record, then QEMU exits, so it holds
   * no RAM. `status` then answers 'suspended'. Always checkpoints: a VM has no
   * connection-state limits like runsc's.
   */
  async suspend(machineId: string): Promise<SuspendOutcome> {
    const id = checkId(machineId);
    const record = this.#record(id);
    const started = Date.now();
    const handle = await this.#handle(id);
    const spec = JSON.parse(await readFile(record.specFile, 'utf8')) as VmSpec;
    // The guest sees the host hang up and waits; the restored VM gets a fresh connection.
    await this.#dropChannel(id);
    const manifest = await suspendVm(this.#vmm, handle, spec, record.snapshotDir);
    const ms = Date.now() - started;
    this.#log.info({ machineId: id, ms, saveMs: manifest.saveMs, ramBytes: manifest.ramBytes }, 'machine suspended to disk');
    return { how: 'checkpointed', ms };
  }

  /** Restores a suspended Machine: the same QEMU command line plus `-incoming`, then `cont`. */
  async restoreFromSuspend(machineId: string): Promise<void> {
    const id = checkId(machineId);
    const record = this.#record(id);
    const started = Date.now();
    const spec = JSON.parse(await readFile(record.specFile, 'utf8')) as VmSpec;
    const handle = await resumeVm(this.#vmm, spec, record.vmDir, record.snapshotDir);
    await this.#channel(id, handle);
    this.#log.info({ machineId: id, ms: Date.now() - started }, 'machine restored from its snapshot');
  }

  async exec(machineId: string, request: ExecRequest): Promise<ExecResult> {
    const id = checkId(machineId);
    if (request.args.length === 0) throw invalidField('exec in machine', 'command', 'a non-empty list', request.args);
    const channel = await this.#liveChannel(id);
    // The guest kills the command at timeoutMs; the extra second is for its answer to arrive.
    const reply = await channel.request(
      (rid) => ({ type: 'exec', id: rid, args: request.args, timeoutMs: request.timeoutMs, uid: 0, gid: 0, ...(request.env === undefined ? {} : { env: request.env }) }),
      request.timeoutMs + 5_000,
    );
    if (reply.type === 'error') throw new AloftError('RUNTIME_FAILED', `Cannot exec in machine ${id}: ${reply.message}`);
    if (reply.type !== 'exec_result') throw new AloftError('RUNTIME_FAILED', `Cannot exec in machine ${id}: the guest answered ${reply.type}`);
    if (reply.timedOut) {
      throw new AloftError('EXEC_TIMEOUT', `Cannot exec in machine ${id} as the command must finish within ${request.timeoutMs / 1000}s: got ${JSON.stringify(request.args.join(' '))} still running`);
    }
    return { stdout: reply.stdout.toString('utf8'), stderr: reply.stderr.toString('utf8'), exitCode: reply.signal > 0 ? 128 + reply.signal : reply.code };
  }

  /**
   * The Machine's processes as the guest init lists them from its /proc (the image needs
   * no `ps`): those in the Machine's guest cgroup, the main process first. PID 1 of the
   * VM is aloft-init, which is not one of the Machine's processes and is not listed, so
   * the main process has the pid the guest gave it, not 1.
   */
  async ps(machineId: string): Promise<ProcessInfo[]> {
    const id = checkId(machineId);
    const channel = await this.#liveChannel(id);
    const reply = await channel.request((rid) => ({ type: 'ps', id: rid }), 10_000);
    if (reply.type === 'error') throw new AloftError('RUNTIME_FAILED', `Cannot list processes of machine ${id}: ${reply.message}`);
    if (reply.type !== 'ps_result') throw new AloftError('RUNTIME_FAILED', `Cannot list processes of machine ${id}: the guest answered ${reply.type}`);
    return reply.processes.map((p) => ({ pid: p.pid, command: p.command, cpuTimeMs: p.cpuMs, rssBytes: p.rssKb * 1024 }));
  }

  async remove(machineId: string): Promise<void> {
    const id = checkId(machineId);
    const record = this.#record(id);
    await this.#dropChannel(id);
    const handle = await this.#vmm.adopt(record.vmDir).catch(() => null);
    if (handle !== null) await this.#vmm.kill(handle);
    const spec = await readFile(record.specFile, 'utf8').then((t) => JSON.parse(t) as VmSpec, () => null);
    if (spec?.netnsPath) await detachTap(spec.netnsPath, { stateFile: record.netFile }).catch(() => undefined);
    await rm(record.dir, { recursive: true, force: true });
  }

  async list(): Promise<string[]> {
    const names = await readdir(this.#options.stateRoot).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return [] as string[];
      throw err;
    });
    return names.filter((n) => ID_PATTERN.test(n)).sort();
  }

  #record(id: string): Record {
    const dir = join(this.#options.stateRoot, id);
    return { dir, vmDir: join(dir, 'vm'), exitFile: join(dir, 'exit.json'), netFile: join(dir, 'net.json'), specFile: join(dir, 'vm-spec.json'), snapshotDir: join(dir, 'snapshot') };
  }


  /**
   * The guest kernel and initramfs (built and cached on disk by src/guest). Asking apt
   * which kernel package is current takes about a second, so the answer is kept for a
   * while: a kernel package upgraded meanwhile is picked up by the next start after that.
   */
  #guest(): Promise<{ kernel: GuestKernel; initramfs: string }> {
    const now = Date.now();
    if (this.#guestParts === undefined || now - this.#guestParts.at > GUEST_RECHECK_MS) {
      const cacheDir = this.#options.cacheDir;
      const parts = (async () => {
        const kernel = await ensureGuestKernel(cacheDir);
        return { kernel, initramfs: await buildInitramfs(cacheDir, kernel, await buildGuestInit(cacheDir)) };
      })();
      // A failed lookup is not kept: the next start tries again.
      parts.catch(() => {
        if (this.#guestParts?.parts === parts) this.#guestParts = undefined;
      });
      this.#guestParts = { at: now, parts };
    }
    return this.#guestParts.parts;
  }
  async #detectAccel(kernel: string): Promise<Accel> {
    if (this.#options.accel !== undefined) return this.#options.accel;
    this.#accel ??= detectAccel({ kernel, cacheFile: join(this.#options.cacheDir, 'accel.json') }).then((r) => {
      this.#log.info({ accel: r.accel, reason: r.reason, cached: r.cached }, 'microvm accelerator');
      return r.accel;
    });
    return this.#accel;
  }

  async #handle(id: string): Promise<VmHandle> {
    const handle = await this.#vmm.adopt(this.#record(id).vmDir);
    if (handle === null || !(await this.#vmm.isAlive(handle))) throw new AloftError('RUNTIME_FAILED', `Cannot drive machine ${id} as its VM is not running`);
    return handle;
  }

  async #liveChannel(id: string): Promise<GuestChannel> {
    return this.#channel(id, await this.#handle(id));
  }

  /** The channel of a VM, one per process (CHANNELS); records the guest's exit report, then acknowledges it. */
  #channel(id: string, handle: VmHandle): Promise<GuestChannel> {
    const key = handle.channelSocket!;
    let channel = CHANNELS.get(key);
    if (channel === undefined) {
      const record = this.#record(id);
      const log = this.#log;
      channel = GuestChannel.connect(key, 10_000).then((ch) => {
        ch.on('message', (m: GuestMessage) => {
          if (m.type !== 'exit') return;
          const status: ExitStatus = m.signal > 0 ? exitStatusFromCode(128 + m.signal) : { exitCode: m.code, signal: null };
          if (m.oom && status.signal === 'SIGKILL') status.oomKilled = true;
          // Recorded before the guest may power off (it waits for this poweroff, bounded),
          // so every instance reads the same exit.
          void writeJson(record.exitFile, status).then(
            () => ch.send({ type: 'poweroff' }),
            (err: unknown) => log.error({ machineId: id, err }, 'cannot record the guest exit report'),
          );
        });
        ch.on('close', () => {
          if (CHANNELS.get(key) === channel) CHANNELS.delete(key);
        });
        return ch;
      });
      channel.catch(() => {
        if (CHANNELS.get(key) === channel) CHANNELS.delete(key);
      });
      CHANNELS.set(key, channel);
    }
    return channel;
  }

  async #dropChannel(id: string): Promise<void> {
    const key = join(this.#record(id).dir, 'ch.sock');
    const channel = CHANNELS.get(key);
    CHANNELS.delete(key);
    (await channel?.catch(() => null))?.close();
  }

  async #waitExitWithin(id: string, ms: number): Promise<ExitStatus | null> {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), ms);
    try {
      return await this.#waitExit(id, abort.signal);
    } catch {
      return null;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Polls the exit record; keeps the channel open meanwhile so the guest's report arrives. */
  async #waitExit(id: string, abort: AbortSignal | undefined): Promise<ExitStatus> {
    const record = this.#record(id);
    for (;;) {
      abort?.throwIfAborted();
      const exit = await readExit(record);
      if (exit !== null) return exit;
      const handle = await this.#vmm.adopt(record.vmDir);
      if (handle === null) throw new AloftError('RUNTIME_FAILED', `Cannot wait for machine ${id} as the microvm driver has no such machine`);
      if (await this.#vmm.isAlive(handle)) {
        await this.#channel(id, handle).catch(() => undefined);
      } else if ((await readSnapshot(record.snapshotDir)) === null) {
        const late = await readExit(record);
        if (late !== null) return late;
        // QEMU ended without the guest's report (a crash, killed by hand, or the guest
        // powered off with no host reading its report): the process is gone with it.
        const vm = await this.#vmm.wait(handle);
        const reason = vm.signal !== null
          ? `the VM's QEMU process was killed by ${vm.signal} (a crash, or killed outside aloft)`
          : vm.exitCode === 0
            ? 'the VM powered off without reporting its process exit (no host read the report in time)'
            : `the VM's QEMU process exited with code ${vm.exitCode} (a VMM failure; see qemu.log)`;
        const status: ExitStatus = { exitCode: null, signal: vm.signal ?? null, reason };
        await writeJson(record.exitFile, status).catch(() => undefined);
        this.#log.warn({ machineId: id, reason }, 'machine VM ended without an exit report');
        return status;
      }
      await delay(POLL_MS * 2, undefined, abort === undefined ? undefined : { signal: abort });
    }
  }
}

async function readExit(record: Record): Promise<ExitStatus | null> {
  const text = await readFile(record.exitFile, 'utf8').catch(() => null);
  return text === null ? null : (JSON.parse(text) as ExitStatus);
}

async function writeJson(path: string, value: unknown): Promise<void> {
  await writeFile(`${path}.tmp`, `${JSON.stringify(value)}\n`, { mode: 0o600 });
  await rename(`${path}.tmp`, path);
}

function checkId(machineId: string): string {
  if (!ID_PATTERN.test(machineId)) throw invalidField('drive machine', 'machineId', '1 to 64 of [A-Za-z0-9_.-], starting alphanumeric', machineId);
  return machineId;
}
