import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, open, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { execCommand, tail, type CommandRunner } from '../../lib/command.ts';
import { AloftError } from '../../lib/errors.ts';
import { exitStatusFromCode } from '../exit-status.ts';
import { QEMU_BINARY, qemuArgs } from './qemu-command.ts';
import { saveState } from './migrate.ts';
import { QmpClient } from './qmp.ts';
import type { Vmm, VmExit, VmHandle, VmSpec } from './vmm.ts';

/** Options of {@link QemuVmm}. */
export interface QemuVmmOptions {
  /** The QEMU binary (default qemu-system-x86_64 on PATH). */
  binary?: string;
  /** How long boot waits for QMP to answer (default 30 s: a loaded host is slow to exec QEMU). */
  bootTimeoutMs?: number;
  run?: CommandRunner;
}

/** Files of one VM under its state dir. */
export function vmFiles(stateDir: string): { handle: string; pid: string; supervisorPid: string; exit: string; log: string } {
  return {
    handle: join(stateDir, 'vm.json'),
    pid: join(stateDir, 'qemu.pid'),
    supervisorPid: join(stateDir, 'supervisor.pid'),
    exit: join(stateDir, 'exit'),
    log: join(stateDir, 'qemu.log'),
  };
}

// No user data in the script: paths and the command arrive as positional parameters.
const SUPERVISOR_SCRIPT = 'exitfile=$1; shift; "$@"; code=$?; printf "%s\\n" "$code" > "$exitfile.tmp" && mv -f "$exitfile.tmp" "$exitfile"';
const SUPERVISOR_NAME = 'aloft-vm-supervisor';
const POLL_MS = 25;
/** sun_path is 108 bytes with the terminating NUL. */
const MAX_SOCKET_PATH = 107;

/**
 * The QEMU `-M microvm` VMM. Each VM runs under a detached `sh` supervisor that records
 * QEMU's exit code in the state dir, so the VM and its exit outlive the agent; every
 * other answer comes from QMP, reached through a fresh connection per operation (QEMU's
 * QMP serves one client at a time, and a held connection would lock out a restarted
 * agent).
 */
export class QemuVmm implements Vmm {
  readonly name = 'qemu';
  readonly #binary: string;
  readonly #bootTimeoutMs: number;
  readonly #run: CommandRunner;

  constructor(options: QemuVmmOptions = {}) {
    this.#binary = options.binary ?? QEMU_BINARY;
    this.#bootTimeoutMs = options.bootTimeoutMs ?? 30_000;
    this.#run = options.run ?? execCommand;
  }

  async check(): Promise<void> {
    const result = await this.#run(this.#binary, ['--version'], { timeoutMs: 15_000, errorCode: 'RUNTIME_MISSING' }).catch(() => null);
    if (result === null || result.code !== 0) {
      throw new AloftError(
        'RUNTIME_MISSING',
        `Cannot use the microvm runtime as '${this.#binary}' is not installed or does not answer --version: install it with \`apt-get install -y qemu-system-x86\``,
      );
    }
  }

  async boot(spec: VmSpec, stateDir: string): Promise<VmHandle> {
    for (const [field, path] of [['controlSocket', spec.controlSocket], ['channel.socketPath', spec.channel?.socketPath]] as const) {
      if (path !== undefined && Buffer.byteLength(path) > MAX_SOCKET_PATH) {
        throw new AloftError('INVALID_ARGUMENT', `Cannot boot VM as '${field}' must be a path of at most ${MAX_SOCKET_PATH} bytes (a unix socket): got ${path}`);
      }
    }
    const files = vmFiles(stateDir);
    const argv = [...qemuArgs(spec), '-pidfile', files.pid];
    await mkdir(stateDir, { recursive: true, mode: 0o700 });
    // Leftovers of an earlier run would pass for this one's.
    await Promise.all([files.pid, files.exit, files.supervisorPid, spec.controlSocket, spec.channel?.socketPath].map((f) => (f === undefined ? undefined : rm(f, { force: true }))));
    const command = spec.netnsPath ? ['nsenter', `--net=${spec.netnsPath}`, this.#binary, ...argv] : [this.#binary, ...argv];
    const log = await open(files.log, 'a', 0o640);
    let supervisor: number;
    try {
      const child = spawn('sh', ['-c', SUPERVISOR_SCRIPT, SUPERVISOR_NAME, files.exit, ...command], { detached: true, stdio: ['ignore', log.fd, log.fd] });
      await once(child, 'spawn');
      child.unref();
      supervisor = child.pid!;
    } finally {
      await log.close();
    }
    await writeFile(files.supervisorPid, `${supervisor}\n`);
    const handle: VmHandle = { pid: 0, stateDir, controlSocket: spec.controlSocket, channelSocket: spec.channel?.socketPath ?? null, consoleLog: spec.consoleLog };
    try {
      await this.#connectWhileAlive(handle, files, Date.now() + this.#bootTimeoutMs).then((qmp) => qmp.close());
      handle.pid = Number((await readFile(files.pid, 'utf8')).trim());
    } catch (err) {
      // The supervisor leads its own process group: end it and QEMU together.
      try {
        process.kill(-supervisor, 'SIGKILL');
      } catch {
        // already gone
      }
      const output = tail(await readFile(files.log, 'utf8').catch(() => ''));
      throw new AloftError('VMM_FAILED', `Cannot boot VM with ${this.#binary}: ${(err as Error).message}; its output: ${output || '(none)'}`, {
        cause: err,
        details: { stateDir, output },
      });
    }
    await writeFile(`${files.handle}.tmp`, `${JSON.stringify(handle)}\n`, { mode: 0o600 });
    await rename(`${files.handle}.tmp`, files.handle);
    return handle;
  }

  async adopt(stateDir: string): Promise<VmHandle | null> {
    const text = await readFile(vmFiles(stateDir).handle, 'utf8').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return null;
      throw err;
    });
    return text === null ? null : (JSON.parse(text) as VmHandle);
  }

  async isAlive(handle: VmHandle): Promise<boolean> {
    // The command line names this VM's QMP socket, so a recycled pid never passes for it.
    const cmdline = await readFile(`/proc/${handle.pid}/cmdline`, 'utf8').catch(() => null);
    return cmdline !== null && cmdline.includes(handle.controlSocket);
  }

  async pause(handle: VmHandle): Promise<void> {
    await this.#qmp(handle, (qmp) => qmp.execute('stop'));
  }

  async resume(handle: VmHandle): Promise<void> {
    await this.#qmp(handle, (qmp) => qmp.execute('cont'));
  }

  async state(handle: VmHandle): Promise<'running' | 'paused' | 'exited'> {
    if (!(await this.isAlive(handle))) return 'exited';
    try {
      const status = await this.#qmp(handle, (qmp) => qmp.execute<{ running: boolean }>('query-status'));
      return status.running ? 'running' : 'paused';
    } catch (err) {
      // It exited while we asked.
      if (!(await this.isAlive(handle))) return 'exited';
      throw err;
    }
  }

  async snapshot(handle: VmHandle, file: string): Promise<void> {
    await this.#qmp(handle, (qmp) => saveState(qmp, file));
  }

  async quit(handle: VmHandle, timeoutMs: number): Promise<VmExit> {
    try {
      await this.#qmp(handle, (qmp) => qmp.execute('quit'));
    } catch (err) {
      // Already gone: nothing to quit.
      if (await this.isAlive(handle)) throw err;
    }
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), timeoutMs);
    try {
      return await this.wait(handle, abort.signal);
    } catch {
      return this.kill(handle);
    } finally {
      clearTimeout(timer);
    }
  }

  async kill(handle: VmHandle): Promise<VmExit> {
    if (await this.isAlive(handle)) process.kill(handle.pid, 'SIGKILL');
    return this.wait(handle);
  }

  async wait(handle: VmHandle, signal?: AbortSignal): Promise<VmExit> {
    const files = vmFiles(handle.stateDir);
    for (;;) {
      signal?.throwIfAborted();
      // A later VM in the same state dir (a restore) owns its files now: this one is gone.
      const current = Number((await readFile(files.pid, 'utf8').catch(() => '')).trim());
      if (current > 0 && current !== handle.pid && !(await this.isAlive(handle))) return { exitCode: null, signal: null };
      const text = await readFile(files.exit, 'utf8').catch(() => null);
      if (text !== null && /^\d+\s*$/.test(text)) return exitStatusFromCode(Number(text.trim()));
      if (!(await this.#supervisorAlive(files))) {
        // The supervisor itself died (killed by hand): the exit code is lost, not the exit.
        const late = await readFile(files.exit, 'utf8').catch(() => null);
        if (late !== null && /^\d+\s*$/.test(late)) return exitStatusFromCode(Number(late.trim()));
        if (!(await this.isAlive(handle))) return { exitCode: null, signal: null };
      }
      await delay(POLL_MS, undefined, signal === undefined ? undefined : { signal });
    }
  }

  /** Connects to QMP, runs `fn`, closes. */
  async #qmp<T>(handle: VmHandle, fn: (qmp: QmpClient) => Promise<T>): Promise<T> {
    const qmp = await QmpClient.connect(handle.controlSocket, { timeoutMs: 10_000 });
    try {
      return await fn(qmp);
    } finally {
      qmp.close();
    }
  }

  /** Connects to QMP once QEMU serves it; fails at once when QEMU exits first. */
  async #connectWhileAlive(handle: VmHandle, files: ReturnType<typeof vmFiles>, deadline: number): Promise<QmpClient> {
    for (;;) {
      const exit = await readFile(files.exit, 'utf8').catch(() => null);
      if (exit !== null) throw new Error(`QEMU exited with code ${exit.trim()} before its QMP socket answered`);
      try {
        return await QmpClient.connect(handle.controlSocket, { timeoutMs: Math.min(250, Math.max(1, deadline - Date.now())) });
      } catch (err) {
        if (Date.now() >= deadline) throw new Error(`QMP did not answer within ${this.#bootTimeoutMs} ms`, { cause: err });
      }
    }
  }

  async #supervisorAlive(files: ReturnType<typeof vmFiles>): Promise<boolean> {
    const pid = (await readFile(files.supervisorPid, 'utf8').catch(() => '')).trim();
    if (!/^\d+$/.test(pid)) return false;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => null);
    return cmdline !== null && cmdline.split('\0').includes(files.exit);
  }
}
