import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AloftError } from '../../lib/errors.ts';

/**
 * Test helpers that run a real etcd (Debian's `etcd-server` 3.4) on loopback: one member
 * or a small cluster, each on random free ports with its own temp data dir, stopped by
 * PID and its dir removed by `stop()`.
 */

/** One running etcd member. */
export interface EtcdMember {
  readonly name: string;
  readonly clientUrl: string;
  readonly pid: number;
  /** Kills this member (SIGKILL) and waits for it to exit. */
  kill(): Promise<void>;
}

export interface TestEtcd {
  /** Every member's client URL, for the store's `endpoints`. */
  readonly endpoints: string[];
  readonly members: readonly EtcdMember[];
  /** Kills every member still running and removes the data dirs. */
  stop(): Promise<void>;
}

export interface StartEtcdOptions {
  /** How many members (1 or 3 in practice). Default 1. */
  members?: number;
  /** The etcd binary. Default `etcd` on PATH. */
  binary?: string;
  /** How long to wait for every member to serve. Default 20 s. */
  timeoutMs?: number;
}

/** Ports the OS says are free now (each from a listener on port 0, closed at once). */
async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, async () => {
      const server = createServer();
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      return server;
    }),
  );
  const ports = servers.map((s) => {
    const address = s.address();
    return typeof address === 'object' && address !== null ? address.port : 0;
  });
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

/** The dir for data: tmpfs when there is one, as etcd 3.4 has no --unsafe-no-fsync and fsync on tmpfs is free. */
function dataRoot(): string {
  try {
    return mkdtempSync('/dev/shm/aloft-etcd-');
  } catch {
    return mkdtempSync(join(tmpdir(), 'aloft-etcd-'));
  }
}

/** Resolves once `child` logs that it serves clients; rejects when it exits first or after `timeoutMs`. */
function whenReady(child: ChildProcess, name: string, timeoutMs: number, output: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => fail(`it must serve within ${timeoutMs} ms`), timeoutMs);
    const onData = (chunk: Buffer): void => {
      const text = chunk.toString();
      output.push(text);
      if (text.includes('ready to serve client requests')) {
        clearTimeout(timer);
        child.off('exit', onExit);
        child.off('error', onError);
        resolve();
      }
    };
    const onExit = (code: number | null): void => fail(`it must keep running: got exit ${code}`);
    // No binary: Debian's etcd-server package provides it.
    const onError = (err: Error): void => fail(`'etcd' must be installed (apt-get install etcd-server): got ${err.message}`);
    function fail(rule: string): void {
      clearTimeout(timer);
      child.stderr?.off('data', onData);
      child.off('exit', onExit);
      child.off('error', onError);
      reject(new AloftError('STORE_FAILED', `Cannot start etcd member ${name} as ${rule}: ${output.join('').slice(-2000)}`));
    }
    child.stderr?.on('data', onData);
    child.once('exit', onExit);
    child.once('error', onError);
  });
}

/**
 * Starts etcd on loopback (random ports, temp data dirs) and resolves when every member
 * serves. Everything else is etcd's default (`--max-txn-ops` 128 included), as an
 * operator's cluster would be.
 */
export async function startTestEtcd(options: StartEtcdOptions = {}): Promise<TestEtcd> {
  const count = options.members ?? 1;
  const binary = options.binary ?? 'etcd';
  const timeoutMs = options.timeoutMs ?? 20_000;
  const root = dataRoot();
  const ports = await freePorts(count * 2);
  const specs = Array.from({ length: count }, (_, i) => ({
    name: `m${i}`,
    clientUrl: `http://127.0.0.1:${ports[2 * i]}`,
    peerUrl: `http://127.0.0.1:${ports[2 * i + 1]}`,
  }));
  const initialCluster = specs.map((s) => `${s.name}=${s.peerUrl}`).join(',');
  const children: ChildProcess[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(children.map((c) => killChild(c)));
    rmSync(root, { recursive: true, force: true });
  };
  try {
    const members = await Promise.all(
      specs.map(async (spec) => {
        const child = spawn(
          binary,
          [
            `--name=${spec.name}`,
            `--data-dir=${join(root, spec.name)}`,
            `--listen-client-urls=${spec.clientUrl}`,
            `--advertise-client-urls=${spec.clientUrl}`,
            `--listen-peer-urls=${spec.peerUrl}`,
            `--initial-advertise-peer-urls=${spec.peerUrl}`,
            `--initial-cluster=${initialCluster}`,
            '--initial-cluster-state=new',
            `--initial-cluster-token=aloft-test-${process.pid}`,
            // Short elections so a cluster test that kills the leader stays quick.
            '--heartbeat-interval=50',
            '--election-timeout=500',
          ],
          { stdio: ['ignore', 'ignore', 'pipe'] },
        );
        children.push(child);
        const output: string[] = [];
        await whenReady(child, spec.name, timeoutMs, output);
        // Keep draining stderr so etcd never blocks on a full pipe.
        child.stderr?.on('data', () => {});
        const member: EtcdMember = { name: spec.name, clientUrl: spec.clientUrl, pid: child.pid ?? -1, kill: () => killChild(child) };
        return member;
      }),
    );
    return { endpoints: members.map((m) => m.clientUrl), members, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** SIGKILLs a child this helper started (by its own handle) and waits for it to exit. */
async function killChild(child: ChildProcess): Promise<void> {
  // Never started (no binary), or already gone.
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited;
}
