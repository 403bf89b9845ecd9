/**
 * For tests: boots a guest (kernel + initramfs + run config + ext4 root) under QEMU TCG
 * with the channel on a unix socket the test listens on, and lets the test wait for
 * channel messages and console lines as events, never by sleeping.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { writeMachineInitrd } from './initramfs.ts';
import { GUEST_KERNEL_APPEND } from './kernel-cmdline.ts';
import { decodeGuestMessage, encodeHostMessage, GUEST_PORT_NAME, LineSplitter, type GuestMessage, type HostMessage } from './protocol.ts';
import type { RunConfig } from './run-config.ts';

export interface TestVmOptions {
  dir: string;
  vmlinux: string;
  initramfs: string;
  rootImage: string;
  config: RunConfig;
  /** Extra disks: [image path, virtio-blk serial]. */
  disks?: Array<[string, string]>;
  /** Give the guest an eth0 (QEMU user networking, restricted: no way out). */
  net?: boolean;
}

/** A running test guest. */
export class TestVm {
  readonly messages: GuestMessage[] = [];
  console = '';
  readonly startedAt = Date.now();
  firstConsoleAt: number | undefined;
  firstMessageAt: number | undefined;
  exitedAt: number | undefined;
  exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  private socket: Socket | undefined;
  private waiters: Array<() => void> = [];

  private constructor(
    private readonly qemu: ChildProcess,
    private readonly server: Server,
  ) {}

  static async boot(o: TestVmOptions): Promise<TestVm> {
    const initrd = join(o.dir, 'machine.initrd');
    await writeMachineInitrd(o.initramfs, o.config, initrd);
    const sock = join(o.dir, 'channel.sock');
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(sock, resolve));
    const args = [
      '-M', 'microvm,x-option-roms=off,rtc=on', '-accel', 'tcg', '-cpu', 'max', '-m', '256', '-smp', '1',
      '-nodefaults', '-no-user-config', '-nographic', '-serial', 'stdio', '-no-reboot',
      '-kernel', o.vmlinux, '-initrd', initrd,
      '-drive', `file=${o.rootImage},if=none,id=d0,format=raw`, '-device', 'virtio-blk-device,drive=d0,serial=root',
    ];
    for (const [i, [image, serial]] of (o.disks ?? []).entries()) {
      args.push('-drive', `file=${image},if=none,id=x${i},format=raw`, '-device', `virtio-blk-device,drive=x${i},serial=${serial}`);
    }
    if (o.net === true) args.push('-netdev', 'user,id=n0,restrict=on', '-device', 'virtio-net-device,netdev=n0');
    args.push(
      '-chardev', `socket,id=ch0,path=${sock}`, '-device', 'virtio-serial-device',
      '-device', `virtserialport,chardev=ch0,name=${GUEST_PORT_NAME}`,
      '-append', GUEST_KERNEL_APPEND,
    );
    const qemu = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const vm = new TestVm(qemu, server);
    server.on('connection', (socket) => {
      vm.socket = socket;
      const splitter = new LineSplitter();
      socket.on('data', (chunk: Buffer) => {
        vm.firstMessageAt ??= Date.now();
        for (const line of splitter.push(chunk)) vm.messages.push(decodeGuestMessage(line));
        vm.wake();
      });
      socket.on('error', () => undefined);
    });
    const onOutput = (chunk: Buffer): void => {
      vm.firstConsoleAt ??= Date.now();
      vm.console += chunk.toString('utf8');
      vm.wake();
    };
    qemu.stdout?.on('data', onOutput);
    qemu.stderr?.on('data', onOutput);
    qemu.on('exit', (code, signal) => {
      vm.exit = { code, signal };
      vm.exitedAt = Date.now();
      vm.wake();
    });
    return vm;
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  /** Resolves when `check` returns a value; rejects after `timeoutMs` with what was seen, so a stuck boot fails instead of hanging. */
  async until<T>(what: string, check: () => T | undefined, timeoutMs = 180_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = check();
      if (value !== undefined) return value;
      if (Date.now() >= deadline) {
        throw new Error(`timed out waiting for ${what}; messages ${JSON.stringify(this.messages.map((m) => m.type))}; console:\n${this.console.slice(-2000)}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, deadline - Date.now());
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Waits for the first message of a type (optionally matching). */
  message<K extends GuestMessage['type']>(type: K, match: (m: Extract<GuestMessage, { type: K }>) => boolean = () => true, timeoutMs?: number): Promise<Extract<GuestMessage, { type: K }>> {
    return this.until(`a "${type}" message`, () => this.messages.find((m): m is Extract<GuestMessage, { type: K }> => m.type === type && match(m as Extract<GuestMessage, { type: K }>)), timeoutMs);
  }

  send(message: HostMessage): void {
    if (this.socket === undefined) throw new Error('the guest has not connected');
    this.socket.write(encodeHostMessage(message));
  }

  /** Waits for QEMU to exit by itself. */
  exited(timeoutMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    return this.until('QEMU to exit', () => this.exit, timeoutMs);
  }

  /** Kills QEMU (by its PID) if it still runs, and closes the socket server. */
  async destroy(): Promise<void> {
    if (this.exit === undefined && this.qemu.pid !== undefined) {
      this.qemu.kill('SIGKILL');
      await this.exited(10_000).catch(() => undefined);
    }
    this.socket?.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
