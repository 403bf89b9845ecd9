/**
 * What every part of bench runtime shares: the deadline, the hello image unpacked once,
 * one host network (bridge + a netns per Machine), and Machines made from them exactly
 * as the agent makes them (buildRunSpec over an overlay root), so a driver gets the
 * same RunSpec it gets in production. Everything made is tracked and undone by
 * `cleanup`, which is safe to call twice (the watchdog may call it while a phase runs).
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildHelloImage } from '../examples/hello/build.ts';
import { helloMachineConfig } from '../examples/hello/app.ts';
import { buildRunSpec } from '../src/agent/run-spec.ts';
import { ImageStore, prepareRootfs, releaseRootfs, type ImageConfig } from '../src/image/index.ts';
import { httpGet } from '../src/lib/http-get.ts';
import { machineId } from '../src/lib/ids.ts';
import type { Machine, MachineAddresses } from '../src/model/index.ts';
import { LinuxHostNetwork, machineIpv4, machineIpv6, parseIpv4Subnet } from '../src/net/index.ts';
import type { RunSpec } from '../src/runtime/index.ts';

const BRIDGE = 'altrt0';
const SUBNET = '172.31.253.0/24';

export const median = (xs: number[]): number => {
  if (xs.length === 0) return NaN;
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};
export const round = (x: number, digits = 1): number => Math.round(x * 10 ** digits) / 10 ** digits;

/** A Machine of the bench: its spec, where it answers, and how to undo its root and netns. */
export interface BenchMachine {
  id: string;
  spec: RunSpec;
  addresses: MachineAddresses;
  /** http://<its IPv4>:8080/ */
  url: string;
  machineDir: string;
}

/** The shared world of one bench run. */
export class BenchWorld {
  readonly deadline: number;
  readonly network = new LinuxHostNetwork({ bridge: BRIDGE, netnsPrefix: 'altrt-', vethPrefix: 'rt', ipv4Subnet: SUBNET });
  readonly #subnet = parseIpv4Subnet(SUBNET);
  /** Host numbers in the subnet not in use; .1 is the gateway. */
  readonly #free: number[] = Array.from({ length: 252 }, (_, i) => i + 2);
  readonly #live = new Map<string, BenchMachine & { hostNumber: number }>();
  readonly #undo: Array<() => Promise<void>> = [];
  #aborted: string | null = null;
  work = '';
  imageRoot = '';
  image!: ImageConfig;
  digest = '';

  constructor(deadline: number) {
    this.deadline = deadline;
  }

  /** Builds and unpacks the hello image, and makes the bridge. */
  async setup(): Promise<void> {
    this.work = await mkdtemp(join(tmpdir(), 'aloft-bench-runtime-'));
    const images = new ImageStore(join(this.work, 'images'));
    const resolved = await images.resolve(await buildHelloImage(join(this.work, 'hello')));
    this.image = resolved.config;
    this.digest = resolved.digest;
    this.imageRoot = await images.unpack(resolved.digest);
    await this.network.ensureBridge();
  }

  /** Throws once the deadline has passed or the watchdog has fired: phases stop at their next step. */
  check(what: string): void {
    if (this.#aborted !== null) throw new Error(`bench runtime: ${what}: ${this.#aborted}`);
    if (Date.now() > this.deadline) throw new Error(`bench runtime: ${what}: past the deadline`);
  }

  abort(reason: string): void {
    this.#aborted = reason;
  }

  /** Registers an undo step run by `cleanup` (last registered, first run). */
  onCleanup(step: () => Promise<void>): void {
    this.#undo.push(step);
  }

  /**
   * A new Machine as the agent would make it: an overlay root over the image, its own
   * netns with an IPv4 and a 6PN address, and the hello app's RunSpec. `memoryMb`
   * defaults to the example's 256.
   */
  async machine(options: { memoryMb?: number } = {}): Promise<BenchMachine> {
    this.check('make a machine');
    const hostNumber = this.#free.shift();
    if (hostNumber === undefined) throw new Error('bench runtime: no free address left in the bench subnet');
    const id = machineId();
    const addresses = { ipv4: machineIpv4(this.#subnet, hostNumber), ipv6: machineIpv6(99, 4243, hostNumber) };
    const machineDir = join(this.work, 'machines', id);
    const entry = { id, addresses, machineDir, hostNumber, url: `http://${addresses.ipv4}:8080/`, spec: undefined as unknown as RunSpec };
    this.#live.set(id, entry);
    await mkdir(machineDir, { recursive: true });
    const { netnsPath } = await this.network.attach(id, addresses);
    const rootfs = await prepareRootfs(this.imageRoot, machineDir);
    const config = helloMachineConfig('bench');
    if (options.memoryMb !== undefined) config.guest = { ...config.guest, memory_mb: options.memoryMb };
    const machine = {
      id,
      appName: 'hello',
      region: 'local',
      instanceId: 'bench',
      config,
      imageRef: { registry: 'local', repository: 'hello', tag: 'latest', digest: this.digest },
      addresses,
    } as unknown as Machine;
    // Made while an abort cleaned up: undo it here, as clean-up may have passed it by.
    if (this.#aborted !== null) {
      await this.release(entry);
      this.check('make a machine');
    }
    entry.spec = buildRunSpec({ machine, image: this.image, user: { uid: 0, gid: 0, additionalGids: [] }, rootfs, machineDir, netnsPath });
    await mkdir(entry.spec.workDir, { recursive: true });
    return entry;
  }

  /** Drops a Machine's root and netns (after its driver removed it). Idempotent. */
  async release(machine: Pick<BenchMachine, 'id'>): Promise<void> {
    const entry = this.#live.get(machine.id);
    if (entry === undefined) return;
    this.#live.delete(machine.id);
    await releaseRootfs(entry.machineDir).catch(() => undefined);
    await this.network.detach(machine.id).catch(() => undefined);
    await rm(entry.machineDir, { recursive: true, force: true }).catch(() => undefined);
    this.#free.push(entry.hostNumber);
  }

  /** Ids of Machines not yet released. */
  liveIds(): string[] {
    return [...this.#live.keys()];
  }

  /** Runs every undo step, releases every Machine, drops the bridge and the work dir. */
  async cleanup(): Promise<void> {
    for (const step of this.#undo.splice(0).reverse()) await step().catch((err: unknown) => process.stderr.write(`bench runtime: clean-up step failed: ${String(err)}\n`));
    for (const id of this.liveIds()) await this.release({ id });
    await new Promise<void>((resolve) => execFile('ip', ['link', 'del', BRIDGE], () => resolve()));
    if (this.work !== '') await rm(this.work, { recursive: true, force: true }).catch(() => undefined);
  }

  /** Polls `url` until it answers 200; returns performance.now() of that answer. Bounded by the deadline. */
  async until200(url: string): Promise<number> {
    for (;;) {
      this.check(`waiting for 200 from ${url}`);
      const ok = await httpGet(url, { timeoutMs: 2000 }).then(
        (r) => r.status === 200,
        () => false,
      );
      if (ok) return performance.now();
      await new Promise((r) => setTimeout(r, 2));
    }
  }
}
