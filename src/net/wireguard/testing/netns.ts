import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { execCommand, mustRun } from '../../../lib/command.ts';

/**
 * Test helpers for network namespaces: run `ip`/`nft`/`sysctl`, and small Node
 * programs inside a namespace (an echo server, a one-shot TCP probe). Every namespace
 * and process made here is tracked so `cleanup` removes them by name and PID.
 */
export class NetnsKit {
  readonly #namespaces: string[] = [];
  readonly #children: ChildProcess[] = [];

  /** Runs `ip args` (in the root namespace; pass `-n NS` to aim). */
  ip(...args: string[]): Promise<string> {
    return mustRun(execCommand, 'ip', args, { timeoutMs: 15_000, errorCode: 'NETWORK_FAILED' });
  }

  /** Runs a program inside `ns`. */
  exec(ns: string, file: string, ...args: string[]): Promise<string> {
    return mustRun(execCommand, 'ip', ['netns', 'exec', ns, file, ...args], { timeoutMs: 15_000, errorCode: 'NETWORK_FAILED' });
  }

  /** Creates namespace `name` (removed by cleanup) with lo up. */
  async netns(name: string): Promise<string> {
    await this.ip('netns', 'add', name);
    this.#namespaces.push(name);
    await this.ip('-n', name, 'link', 'set', 'lo', 'up');
    return name;
  }

  /** Starts a TCP echo server in `ns` on every address (IPv4 and IPv6) for each port; resolves once it listens. */
  async echoServer(ns: string, ports: readonly number[]): Promise<ChildProcess> {
    const child = this.spawnNode(ns, ECHO_SERVER, ports.map(String));
    const lines = createInterface({ input: child.stdout! });
    const [line] = (await Promise.race([once(lines, 'line'), once(child, 'exit').then(() => ['exited'])])) as string[];
    lines.close();
    if (line !== 'listening') throw new Error(`echo server in ${ns} did not start: ${line}`);
    return child;
  }

  /**
   * Connects from `ns` to host:port (from `localAddress` when given), sends a marker and
   * waits for it back: "ok", or the error code ("ETIMEDOUT" when nothing answered within
   * timeoutMs: a drop).
   */
  async probe(ns: string, host: string, port: number, timeoutMs = 1000, localAddress?: string): Promise<string> {
    const child = this.spawnNode(ns, PROBE, [host, String(port), String(timeoutMs), ...(localAddress ? [localAddress] : [])]);
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    await once(child, 'exit');
    return out.trim();
  }

  /** Probes until it answers "ok" or `deadlineMs` passes; the last answer. */
  async probeUntilOk(ns: string, host: string, port: number, deadlineMs = 15_000): Promise<string> {
    const end = Date.now() + deadlineMs;
    let answer = '';
    while (Date.now() < end) {
      answer = await this.probe(ns, host, port, 1000);
      if (answer === 'ok') return answer;
      // A refused or unreachable answer comes at once: wait for the tunnel, not spin.
      if (answer !== 'ETIMEDOUT') await new Promise((resolve) => setTimeout(resolve, 200));
    }
    return answer;
  }

  /** Kills every process started here (by PID) and deletes every namespace (by name). */
  async cleanup(): Promise<void> {
    for (const child of this.#children) {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = once(child, 'exit');
        child.kill('SIGKILL');
        await exited;
      }
    }
    for (const name of this.#namespaces.reverse()) {
      await execCommand('ip', ['netns', 'del', name], { timeoutMs: 15_000, errorCode: 'NETWORK_FAILED' });
    }
  }

  /** Runs `node -e script args…` inside `ns` (stdout piped); killed by cleanup. */
  spawnNode(ns: string, script: string, args: readonly string[]): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', script, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    this.#children.push(child);
    return child;
  }
}

// Plain JavaScript run with `node -e` inside a namespace (no tsx: it starts in ~50 ms).
const ECHO_SERVER = `
const net = require('node:net');
const ports = process.argv.slice(1).map(Number);
let listening = 0;
for (const port of ports) {
  const server = net.createServer((c) => { c.setNoDelay(true); c.on('error', () => {}); c.pipe(c); });
  server.listen({ port, host: '::', ipv6Only: false }, () => { if (++listening === ports.length) process.stdout.write('listening\\n'); });
}`;

const PROBE = `
const net = require('node:net');
const [host, port, timeout, localAddress] = process.argv.slice(1);
const marker = 'aloft-probe-' + process.pid;
let got = '';
const done = (answer) => { process.stdout.write(answer); process.exit(0); };
const timer = setTimeout(() => done('ETIMEDOUT'), Number(timeout));
const socket = net.connect({ host, port: Number(port), ...(localAddress ? { localAddress } : {}) });
socket.on('connect', () => socket.write(marker));
socket.on('data', (d) => { got += d; if (got === marker) { clearTimeout(timer); done('ok'); } });
socket.on('error', (e) => { clearTimeout(timer); done(e.code || e.message); });`;
