import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { AloftError, isAloftError } from '../lib/errors.ts';
import { silentLogger, type Logger } from '../lib/log.ts';
import { DEFAULT_STOP, machineEvent, parseDurationMs, type Machine, type MachineState } from '../model/index.ts';
import type { Store } from '../store/store.ts';
import type { Driver, ExitStatus, SuspendOutcome } from '../runtime/driver.ts';
import type { HostNetwork } from '../net/host-network.ts';
import type { HostInfo } from '../scheduler/index.ts';
import type { AgentImages } from './ports.ts';
import { resolveImageUser } from '../image/index.ts';
import { buildRunSpec } from './run-spec.ts';
import type { AgentVolumes } from './volumes/machine-volumes.ts';
import { SerialQueue } from './serial-queue.ts';
import { restartDecision } from './restart-policy.ts';
import { MachineLogs } from './logs/index.ts';
import type { MachineSecrets } from '../secrets/machine-secrets.ts';
import { CheckRunner, initialCheckStatuses } from './checks/index.ts';

/** Backoff of failed reconciles: 0.5 s, 1 s, 2 s… up to 30 s between tries. */
const RETRY_BASE_MS = 500;
const RETRY_MAX_MS = 30_000;

export interface AgentOptions {
  host: HostInfo;
  store: Store;
  driver: Driver;
  network: HostNetwork;
  images: AgentImages;
  /** Where machine dirs live: <dataDir>/machines/<id>. */
  dataDir: string;
  log?: Logger;
  /** Volumes on this host (src/agent/volumes); without it, Machines get no volume mounts. */
  volumes?: AgentVolumes;
  /**
   * Follows each Machine's output (src/agent/logs). Pass one to share it beyond this
   * agent (the embedded platform's HostControl reads it, and it outlives agent restarts);
   * without it the agent makes its own and closes it when it stops.
   */
  logs?: MachineLogs;
  /** How the Machines' health checks run (src/agent/checks); `false` runs none. */
  checks?: false | { maxConcurrent?: number };
  /** Opens the app's secrets for a Machine's environment at each boot; without it Machines get none. */
  secrets?: MachineSecrets;
}

/**
 * The per-host daemon (Fly's flyd). It follows the store for Machines placed on its
 * host and drives each one's state machine: the API records an intent as a transient
 * state (`starting`, `stopping`, `destroying`), the agent acts and records the result.
 *
 * Durability: every intent is in the store before anything happens, and the agent
 * checks the runtime's truth before acting, so a restarted agent re-adopts running
 * Machines and finishes interrupted work without starting anything twice.
 */
export class Agent {
  readonly #o: AgentOptions;
  readonly #log: Logger;
  readonly #queue: SerialQueue;
  /** Machines whose exit we are waiting for, with the run they belong to. */
  readonly #waiting = new Map<string, string>();
  /** Exits seen by a waiter, handled by the machine's next reconcile. */
  readonly #exits = new Map<string, ExitStatus>();
  /** Failed reconciles per machine, and the timer that tries again. */
  readonly #retries = new Map<string, { attempts: number; timer: NodeJS.Timeout }>();
  #unwatch: (() => void) | undefined;
  #stopping = false;
  readonly #logs: MachineLogs;
  readonly #ownsLogs: boolean;
  #checks: CheckRunner | undefined;

  constructor(options: AgentOptions) {
    this.#o = options;
    this.#log = (options.log ?? silentLogger).child({ part: 'agent', host: options.host.id });
    this.#ownsLogs = options.logs === undefined;
    this.#logs = options.logs ?? new MachineLogs({ log: options.log ?? silentLogger });
    this.#queue = new SerialQueue(
      async (id) => {
        await this.#reconcile(id);
        this.#retries.delete(id);
      },
      (id, err) => this.#retryLater(id, err),
    );
  }

  /** Checks the host, adopts what is running, resumes interrupted work, then follows the store. */
  async start(): Promise<void> {
    const { store, driver, network, host } = this.#o;
    await driver.check();
    await network.ensureBridge();
    await this.#o.volumes?.start();
    const revision = await store.revision();
    this.#unwatch = store.watch(
      (change) => {
        if (change.kind !== 'machine' || this.#stopping) return;
        if (change.op === 'put' && change.machine.hostId !== host.id) return;
        void this.#queue.schedule(change.key);
      },
      { fromRevision: revision },
    );
    const machines = await store.listMachines({ hostId: host.id });
    await this.#removeOrphans(new Set(machines.map((m) => m.id)));
    await Promise.all(machines.map((m) => this.#queue.schedule(m.id)));
    await this.#resumeAfterShutdown();
    if (this.#o.checks !== false) {
      this.#checks = new CheckRunner({ store, hostId: host.id, log: this.#log, ...(this.#o.checks ?? {}) });
      await this.#checks.start();
    }
    this.#log.info({ machines: machines.length }, 'agent started');
  }

  /**
   * Stops following the store. With `stopMachines`, stops every running Machine first
   * (recorded as a host shutdown, and started again by the next agent's start).
   */
  async stop(options: { stopMachines: boolean }): Promise<void> {
    this.#stopping = true;
    this.#unwatch?.();
    await this.#checks?.stop();
    for (const { timer } of this.#retries.values()) clearTimeout(timer);
    this.#retries.clear();
    await this.#queue.idle();
    if (options.stopMachines) {
      const running = (await this.#o.store.listMachines({ hostId: this.#o.host.id })).filter((m) => m.state === 'started');
      await this.#o.store.setMeta(this.#shutdownKey(), JSON.stringify(running.map((m) => m.id)));
      await Promise.all(
        running.map(async (m) => {
          try {
            await this.#o.store.updateMachine(m.id, {
              patch: { state: 'stopping' },
              expectState: ['started'],
              events: [machineEvent('stop', 'requested', 'flyd', { reason: 'host shutdown' })],
            });
            await this.#stopMachine((await this.#o.store.getMachine(m.id))!);
          } catch (err) {
            this.#log.error({ err, machine: m.id }, 'stopping machine at shutdown failed');
          }
        }),
      );
    }
    await this.#o.volumes?.stop();
    if (this.#ownsLogs) await this.#logs.close();
    this.#log.info('agent stopped');
  }

  /** The output of this host's Machines, line by line. */
  get logs(): MachineLogs {
    return this.#logs;
  }

  /** Resolves when no reconcile is running (for tests and orderly shutdown). */
  idle(): Promise<void> {
    return this.#queue.idle();
  }

  /**
   * A reconcile that failed (a runtime hiccup, a busy mount) is tried again with
   * backoff, so a Machine is never left half-way in a transient state; each try reads
   * fresh state, so a user's later request wins over the failed one.
   */
  #retryLater(id: string, err: unknown): void {
    const attempts = (this.#retries.get(id)?.attempts ?? 0) + 1;
    const delayMs = Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** (attempts - 1));
    this.#log.error({ err, machine: id, attempts, retryInMs: delayMs }, 'reconcile failed; will retry');
    if (this.#stopping) return;
    clearTimeout(this.#retries.get(id)?.timer);
    const timer = setTimeout(() => {
      if (!this.#stopping) void this.#queue.schedule(id);
    }, delayMs);
    this.#retries.set(id, { attempts, timer });
  }

  #machineDir(id: string): string {
    return join(this.#o.dataDir, 'machines', id);
  }

  #shutdownKey(): string {
    return `host:${this.#o.host.id}:stopped-at-shutdown`;
  }

  async #reconcile(id: string): Promise<void> {
    if (this.#stopping) return;
    const machine = await this.#o.store.getMachine(id);
    if (!machine) {
      await this.#cleanUp(id);
      return;
    }
    if (machine.hostId !== this.#o.host.id) return;
    switch (machine.state) {
      case 'starting':
        return this.#startMachine(machine);
      case 'stopping':
        return this.#stopMachine(machine);
      case 'destroying':
        return this.#destroyMachine(machine);
      case 'restarting':
      case 'updating':
        return this.#replaceRun(machine);
      case 'suspending':
        return this.#suspendMachine(machine);
      case 'suspended':
        return this.#checkSuspended(machine);
      case 'started': {
        const exit = this.#exits.get(id);
        this.#exits.delete(id);
        return exit ? this.#onExit(id, exit, 'process exited') : this.#adopt(machine);
      }
      case 'created':
      case 'stopped':
      case 'failed':
        // Nothing may run; an agent that died mid-stop can leave a sandbox behind.
        if (['running', 'paused', 'suspended'].includes(await this.#o.driver.status(id))) {
          this.#log.warn({ machine: id, state: machine.state }, 'machine runs but should not; stopping it');
          await this.#o.driver.stop(id, { signal: 'SIGKILL', timeoutMs: 0 });
        }
        return;
      case 'migrated':
        // Re-placed on another host while this one was down (cluster/host-monitor.ts):
        // the copy still running here must go, or the Machine would run twice.
        if (['running', 'paused', 'suspended'].includes(await this.#o.driver.status(id))) {
          this.#log.warn({ machine: id }, 'machine moved to another host while this one was down; removing it here');
          await this.#o.driver.stop(id, { signal: 'SIGKILL', timeoutMs: 0 }).catch(() => undefined);
        }
        return this.#cleanUp(id);
      default:
        return;
    }
  }

  /**
   * Starts the Machine's current version and records `started`. `from` is the intent
   * being carried out: `starting`, or the second half of `restarting`/`updating`.
   */
  async #startMachine(machine: Machine, from: MachineState = 'starting'): Promise<void> {
    const { driver, store, images, network } = this.#o;
    const status = await driver.status(machine.id);
    if (status === 'running') {
      // Started by an agent that died before recording it: adopt, never start twice.
      await this.#recordStarted(machine, from);
      return;
    }
    if (status === 'paused') {
      // A suspended Machine: thaw it where it stopped (Fly's resume from suspend).
      await driver.resume(machine.id);
      await this.#recordStarted(machine, from, 'resumed');
      return;
    }
    if (status === 'suspended' && driver.restoreFromSuspend) {
      if (await this.#restore(machine)) {
        await this.#recordStarted(machine, from, 'restored');
        return;
      }
    }
    if (status === 'stopped') await driver.remove(machine.id);
    const machineDir = this.#machineDir(machine.id);
    try {
      await mkdir(machineDir, { recursive: true });
      const [imageRoot, imageConfig] = await Promise.all([
        images.unpack(machine.imageRef.digest),
        images.imageConfig(machine.imageRef.digest),
      ]);
      const rootfs = await images.prepareRootfs(imageRoot, machineDir);
      const user = await resolveImageUser(rootfs, imageConfig.user);
      const { netnsPath } = machine.addresses ? await network.attach(machine.id, machine.addresses) : { netnsPath: null };
      const mounts = (await this.#o.volumes?.attach(machine)) ?? [];
      const rootDisk = machine.config.guest?.driver === 'microvm' && images.ext4Image ? await images.ext4Image(machine.imageRef.digest) : undefined;
      // Read at every boot, so a restart picks up what was set since (staged or not).
      const secrets = (await this.#o.secrets?.envFor(machine)) ?? {};
      const spec = buildRunSpec({ machine, image: imageConfig, user, rootfs, machineDir, netnsPath, mounts, secrets, ...(rootDisk ? { rootDisk } : {}) });
      await mkdir(spec.workDir, { recursive: true });
      // Before the start, from the file's end: the new run's first lines are not missed.
      await this.#followLogs(machine);
      await driver.start(spec);
    } catch (err) {
      this.#log.error({ err, machine: machine.id }, 'machine failed to start');
      await this.#logs.unfollow(machine.id); // keeps what the failed start printed
      await driver.remove(machine.id).catch(() => undefined);
      await images.releaseRootfs(machineDir).catch(() => undefined);
      await this.#o.volumes?.detach(machine.id).catch(() => undefined);
      await store
        .updateMachine(machine.id, {
          patch: { state: 'failed' },
          expectState: [from],
          events: [machineEvent('start', 'failed', 'flyd', { error: (err as Error).message })],
        })
        .catch((e: unknown) => this.#log.warn({ err: e, machine: machine.id }, 'could not record start failure'));
      return;
    }
    await this.#recordStarted(machine, from);
  }

  /**
   * Restores a checkpointed Machine into the same root, netns and volumes (re-made if a
   * host reboot lost them; both are idempotent). False when the restore failed: the image
   * is discarded and recorded in the events, and the caller starts the Machine afresh,
   * as Fly does when a resume from suspend fails.
   */
  async #restore(machine: Machine): Promise<boolean> {
    const { driver, network } = this.#o;
    try {
      if (machine.addresses) await network.attach(machine.id, machine.addresses);
      await this.#o.volumes?.attach(machine);
      await driver.restoreFromSuspend!(machine.id);
      return true;
    } catch (err) {
      this.#log.warn({ err, machine: machine.id }, 'restore from suspend failed; starting afresh');
      await driver.stop(machine.id, { signal: 'SIGKILL', timeoutMs: 0 }).catch(() => undefined);
      await driver.remove(machine.id);
      // A fresh start gets a fresh root, as after any stop.
      await this.#o.images.releaseRootfs(this.#machineDir(machine.id));
      await this.#o.store.appendEvent(machine.id, machineEvent('restore', 'failed', 'flyd', { error: (err as Error).message }));
      return false;
    }
  }

  async #recordStarted(machine: Machine, from: MachineState = 'starting', how?: string): Promise<void> {
    try {
      await this.#o.store.updateMachine(machine.id, {
        // Each run starts its checks afresh, in the same write: no status of an earlier run is read as this one's.
        patch: { state: 'started', checks: initialCheckStatuses(machine.config, Date.now()) },
        expectState: [from],
        events: [machineEvent('start', 'started', 'flyd', from === 'starting' && how === undefined ? undefined : { after: from, ...(how ? { how } : {}) })],
      });
    } catch (err) {
      // A stop or destroy arrived while starting: the next reconcile handles it.
      if (!isAloftError(err, 'ILLEGAL_TRANSITION')) throw err;
    }
    await this.#followLogs(machine);
    this.#watchExit(machine.id);
  }

  /** A Machine recorded as started: if it still runs, follow it; if not, it exited while we were away. */
  async #adopt(machine: Machine): Promise<void> {
    const status = await this.#o.driver.status(machine.id);
    // Recorded started but frozen: an agent died between resume and recording it.
    if (status === 'paused') await this.#o.driver.resume(machine.id);
    if (status === 'suspended' && this.#o.driver.restoreFromSuspend) {
      // Recorded started but still saved: an agent died between the two. Restore it, or
      // (the image failed) start it afresh.
      if (!(await this.#restore(machine))) return this.#startMachine({ ...machine, state: 'starting' }, 'started');
      await this.#followLogs(machine);
      this.#watchExit(machine.id);
      return;
    }
    if (status === 'running' || status === 'paused') {
      await this.#followLogs(machine);
      this.#watchExit(machine.id);
      return;
    }
    // Gone, but this agent is waiting on it: the driver's wait is about to report the
    // exit with its code (the runtime can say "stopped" a moment before), and that
    // schedules the Machine again. Recording it now would lose the code.
    if (this.#waiting.has(machine.id)) return;
    await this.#onExit(machine.id, { exitCode: null, signal: null }, 'exited while the agent was away');
  }

  /** Follows the Machine's log file (the run spec's `logPath`); idempotent, and never fails a reconcile. */
  async #followLogs(machine: Machine): Promise<void> {
    await this.#logs
      .follow(machine.id, { path: join(this.#machineDir(machine.id), 'machine.log'), app: machine.appName })
      .catch((err: unknown) => this.#log.warn({ err, machine: machine.id }, 'cannot follow machine log'));
  }

  #watchExit(id: string): void {
    if (this.#waiting.has(id)) return;
    const run = `${Date.now()}`;
    this.#waiting.set(id, run);
    this.#o.driver.wait(id).then(
      (status) => {
        if (this.#waiting.get(id) !== run) return;
        this.#waiting.delete(id);
        this.#exits.set(id, status);
        if (!this.#stopping) void this.#queue.schedule(id);
      },
      (err: unknown) => {
        this.#waiting.delete(id);
        this.#log.warn({ err, machine: id }, 'waiting for machine exit failed');
      },
    );
  }

  /** An exit the agent did not ask for: record it, then apply the restart policy. */
  async #onExit(id: string, status: ExitStatus, why: string): Promise<void> {
    const machine = await this.#o.store.getMachine(id);
    if (!machine || machine.state !== 'started') return; // a requested stop or destroy handles its own exit
    await this.#logs.unfollow(id);
    await this.#o.driver.remove(id);
    await this.#o.images.releaseRootfs(this.#machineDir(id));
    await this.#o.volumes?.detach(id);
    const oom = status.oomKilled === true;
    const reason = oom ? 'oom killed' : why;
    const events = [
      machineEvent('exit', 'stopped', 'flyd', { exit_event: { exit_code: status.exitCode, signal: status.signal, oom_killed: oom, requested_stop: false, reason } }),
    ];
    const decision = restartDecision(machine, status, await this.#o.store.listEvents(id, { limit: 50 }));
    if (decision.restart) events.push(machineEvent('restart', 'requested', 'flyd', { attempt: decision.attempt }));
    await this.#o.store.updateMachine(id, { patch: { state: decision.restart ? 'starting' : 'stopped' }, expectState: ['started'], events });
  }

  /**
   * `restarting` and `updating`: stop what runs (the restart request's signal and
   * timeout, else the stop config), drop its writable root as every stop does, then
   * start the current version — for an update, the new config — and record `started`.
   */
  async #replaceRun(machine: Machine): Promise<void> {
    const from = machine.state;
    const { signal, timeoutMs } = await this.#stopSettings(machine, from === 'restarting' ? 'restart' : 'update');
    this.#waiting.delete(machine.id);
    this.#exits.delete(machine.id);
    const exit = await this.#o.driver.stop(machine.id, { signal, timeoutMs });
    await this.#o.driver.remove(machine.id);
    await this.#o.images.releaseRootfs(this.#machineDir(machine.id));
    await this.#o.store.appendEvent(
      machine.id,
      machineEvent('exit', 'stopped', 'flyd', { exit_event: { exit_code: exit.exitCode, signal: exit.signal, oom_killed: exit.oomKilled === true, requested_stop: true, killed: exit.killed ?? false }, reason: from }),
    );
    await this.#startMachine(machine, from);
  }

  /**
   * `suspending`: save the running Machine to disk where its driver can and it is safe
   * (`suspend`), else freeze it (`pause`), and record `suspended` with which it was
   * (`how`: "checkpointed" or "paused", and why it fell back). One that exited meanwhile
   * is stopped.
   */
  async #suspendMachine(machine: Machine): Promise<void> {
    const { driver } = this.#o;
    const status = await driver.status(machine.id);
    let detail: Record<string, unknown> = { how: 'paused' };
    if (status === 'running') {
      // A checkpoint ends the run: that end is not the Machine's exit, so stop following it.
      this.#waiting.delete(machine.id);
      this.#exits.delete(machine.id);
      const outcome = driver.suspend ? await driver.suspend(machine.id) : await this.#pauseForSuspend(machine.id);
      detail = outcome.how === 'checkpointed' ? { how: 'checkpointed', ms: outcome.ms } : { how: 'paused', reason: outcome.reason };
      if (outcome.how === 'paused') this.#watchExit(machine.id);
    } else if (status !== 'paused' && status !== 'suspended') {
      return this.#lostWhile(machine, 'exited before it could be suspended');
    }
    await this.#o.store.updateMachine(machine.id, {
      patch: { state: 'suspended' },
      expectState: ['suspending'],
      events: [machineEvent('suspend', 'suspended', 'flyd', detail)],
    });
  }

  /** Suspend by freezing, for a driver without `suspend`. */
  async #pauseForSuspend(id: string): Promise<SuspendOutcome> {
    await this.#o.driver.pause(id);
    return { how: 'paused', reason: `the ${this.#o.driver.name} driver suspends by freezing` };
  }

  /** `suspended`: it must stay frozen or saved; one that is gone (a host reboot) is recorded stopped. */
  async #checkSuspended(machine: Machine): Promise<void> {
    const status = await this.#o.driver.status(machine.id);
    if (status === 'running') await this.#o.driver.pause(machine.id);
    else if (status !== 'paused' && status !== 'suspended') await this.#lostWhile(machine, 'its suspended sandbox is gone');
  }

  async #lostWhile(machine: Machine, reason: string): Promise<void> {
    this.#waiting.delete(machine.id);
    await this.#logs.unfollow(machine.id);
    await this.#o.driver.remove(machine.id);
    await this.#o.images.releaseRootfs(this.#machineDir(machine.id));
    await this.#o.store.updateMachine(machine.id, {
      patch: { state: 'stopped' },
      expectState: [machine.state],
      events: [machineEvent('exit', 'stopped', 'flyd', { exit_event: { exit_code: null, signal: null, requested_stop: false, reason } })],
    });
  }

  async #stopMachine(machine: Machine): Promise<void> {
    const { signal, timeoutMs } = await this.#stopSettings(machine);
    this.#waiting.delete(machine.id);
    this.#exits.delete(machine.id);
    const exit = await this.#o.driver.stop(machine.id, { signal, timeoutMs });
    await this.#logs.unfollow(machine.id);
    try {
      await this.#o.store.updateMachine(machine.id, {
        patch: { state: 'stopped' },
        expectState: ['stopping'],
        events: [machineEvent('exit', 'stopped', 'flyd', { exit_event: { exit_code: exit.exitCode, signal: exit.signal, oom_killed: exit.oomKilled === true, requested_stop: true, killed: exit.killed ?? false } })],
      });
    } catch (err) {
      if (!isAloftError(err, 'ILLEGAL_TRANSITION')) throw err;
    }
    // Fly resets a Machine's root filesystem on every start: drop the writable layer.
    await this.#o.driver.remove(machine.id);
    await this.#o.images.releaseRootfs(this.#machineDir(machine.id));
    await this.#o.volumes?.detach(machine.id);
  }

  /** The stop signal and timeout: the request's override (a `requestType` event), else the config's, else Fly's defaults. */
  async #stopSettings(machine: Machine, requestType = 'stop'): Promise<{ signal: string; timeoutMs: number }> {
    const [latest] = (await this.#o.store.listEvents(machine.id, { limit: 10 })).filter((e) => e.type === requestType && e.status === 'requested');
    const request = latest?.request ?? {};
    const signal = (typeof request['signal'] === 'string' ? request['signal'] : undefined) ?? machine.config.stop_config?.signal ?? DEFAULT_STOP.signal;
    const override = request['timeout'];
    const timeoutMs =
      parseDurationMs(typeof override === 'string' || typeof override === 'number' ? override : undefined) ??
      parseDurationMs(machine.config.stop_config?.timeout) ??
      DEFAULT_STOP.timeoutMs;
    return { signal, timeoutMs };
  }

  async #destroyMachine(machine: Machine): Promise<void> {
    this.#waiting.delete(machine.id);
    this.#exits.delete(machine.id);
    await this.#o.driver.stop(machine.id, { signal: 'SIGKILL', timeoutMs: 0 });
    await this.#cleanUp(machine.id);
    await this.#o.store.updateMachine(machine.id, {
      patch: { state: 'destroyed' },
      expectState: ['destroying'],
      events: [machineEvent('destroy', 'destroyed', 'flyd')],
    });
  }

  /** Frees everything a Machine holds on this host. Idempotent. */
  async #cleanUp(id: string): Promise<void> {
    await this.#logs.forget(id);
    await this.#o.driver.remove(id);
    await this.#o.images.releaseRootfs(this.#machineDir(id));
    await this.#o.volumes?.detach(id);
    await this.#o.network.detach(id);
    await rm(this.#machineDir(id), { recursive: true, force: true });
  }

  /** Sandboxes the runtime has but the store does not know (or knows as gone) are removed. */
  async #removeOrphans(known: Set<string>): Promise<void> {
    for (const id of await this.#o.driver.list()) {
      if (known.has(id)) continue;
      this.#log.warn({ machine: id }, 'removing a sandbox the store does not know');
      await this.#o.driver.stop(id, { signal: 'SIGKILL', timeoutMs: 0 }).catch(() => undefined);
      await this.#cleanUp(id).catch((err: unknown) => this.#log.warn({ err, machine: id }, 'orphan clean-up failed'));
    }
  }

  /** Machines stopped by the last host shutdown are started again. */
  async #resumeAfterShutdown(): Promise<void> {
    const key = this.#shutdownKey();
    const ids = JSON.parse((await this.#o.store.getMeta(key)) ?? '[]') as string[];
    for (const id of ids) {
      try {
        await this.#o.store.updateMachine(id, {
          patch: { state: 'starting' },
          expectState: ['stopped'],
          events: [machineEvent('start', 'requested', 'flyd', { reason: 'host restarted' })],
        });
      } catch (err) {
        if (!(err instanceof AloftError)) throw err;
      }
    }
    await this.#o.store.setMeta(key, '[]');
  }
}
