/**
 * The host side of the guest channel (PROTOCOL.md): encoders for what the host sends to
 * aloft-init over the virtio-serial port `aloft0`, and a decoder for what it answers.
 */
import { AloftError, invalidField } from '../lib/errors.ts';
import { decodeValue, decodeValueBytes, encodeLine, splitLine, type Token } from './line-codec.ts';

/** The virtserialport name the guest looks for (`-device virtserialport,name=aloft0`). */
export const GUEST_PORT_NAME = 'aloft0';
/** The protocol version the guest announces in `hello`. */
export const GUEST_PROTOCOL_VERSION = 1;
/** Longest line either side accepts. */
export const MAX_LINE_BYTES = 16 * 1024 * 1024;

/** Run a command in the image root beside the main process. */
export interface GuestExecRequest {
  type: 'exec';
  id: string;
  args: string[];
  timeoutMs: number;
  uid: number;
  gid: number;
  groups?: number[];
  /** Defaults to the main process's workdir. */
  cwd?: string;
  /** Added to the main process's environment, winning over it. */
  env?: Record<string, string>;
}

/** What the host can send. */
export type HostMessage =
  | GuestExecRequest
  | { type: 'signal'; id: string; signal: number }
  | { type: 'ping'; id: string }
  | { type: 'ps'; id: string }
  | { type: 'poweroff' };

/** One of the Machine's processes as the guest lists them (`ps_result`). */
export interface GuestProcess {
  pid: number;
  ppid: number;
  uid: number;
  rssKb: number;
  cpuMs: number;
  /** The command line, space-joined, or `[name]` when it has none. */
  command: string;
}

/** What the guest can send. */
export type GuestMessage =
  | { type: 'hello'; version: number }
  | { type: 'started'; pid: number }
  /** `oom`: the main process was SIGKILLed by the OOM killer at the Machine's memory limit. */
  | { type: 'exit'; code: number; signal: number; oom: boolean; error?: string }
  | { type: 'fatal'; message: string }
  | { type: 'exec_result'; id: string; code: number; signal: number; timedOut: boolean; stdout: Buffer; stderr: Buffer }
  | { type: 'signal_result'; id: string }
  | { type: 'pong'; id: string }
  /** The Machine's processes, the main process first (while it runs). */
  | { type: 'ps_result'; id: string; processes: GuestProcess[] }
  | { type: 'error'; id: string; message: string }
  | { type: 'unknown'; verb: string };

const ID = /^[A-Za-z0-9_.-]{1,64}$/;

function checkId(action: string, id: string): void {
  if (!ID.test(id)) throw invalidField(action, 'id', '1-64 letters, digits, "_", "." or "-"', id);
}

function checkUint(action: string, field: string, value: number, max = 0xffffffff): void {
  if (!Number.isInteger(value) || value < 0 || value > max) throw invalidField(action, field, `an integer from 0 to ${max}`, value);
}

/** Encodes one host→guest message as a line (with its newline). Throws INVALID_ARGUMENT on bad fields. */
export function encodeHostMessage(message: HostMessage): string {
  switch (message.type) {
    case 'exec': {
      const action = 'send exec to guest';
      checkId(action, message.id);
      if (message.args.length === 0) throw invalidField(action, 'args', 'a non-empty list', message.args);
      checkUint(action, 'timeoutMs', message.timeoutMs);
      checkUint(action, 'uid', message.uid);
      checkUint(action, 'gid', message.gid);
      const fields: Array<[string, string | number]> = [
        ['id', message.id],
        ['timeout_ms', message.timeoutMs],
        ['uid', message.uid],
        ['gid', message.gid],
      ];
      if (message.groups !== undefined && message.groups.length > 0) {
        for (const g of message.groups) checkUint(action, 'groups', g);
        fields.push(['groups', message.groups.join(',')]);
      }
      if (message.cwd !== undefined) {
        if (!message.cwd.startsWith('/')) throw invalidField(action, 'cwd', 'an absolute path', message.cwd);
        fields.push(['cwd', message.cwd]);
      }
      for (const arg of message.args) {
        if (arg.includes('\0')) throw invalidField(action, 'args', 'strings without NUL bytes', arg);
        fields.push(['arg', arg]);
      }
      for (const [key, value] of Object.entries(message.env ?? {})) {
        if (key === '' || key.includes('=') || key.includes('\0') || value.includes('\0')) {
          throw invalidField(action, 'env', 'names without "=" or NUL and values without NUL', key);
        }
        fields.push(['env', `${key}=${value}`]);
      }
      return encodeLine('exec', fields);
    }
    case 'signal':
      checkId('send signal to guest', message.id);
      if (!Number.isInteger(message.signal) || message.signal < 1 || message.signal > 64) {
        throw invalidField('send signal to guest', 'signal', 'a signal number from 1 to 64', message.signal);
      }
      return encodeLine('signal', [['id', message.id], ['sig', message.signal]]);
    case 'ping':
      checkId('send ping to guest', message.id);
      return encodeLine('ping', [['id', message.id]]);
    case 'ps':
      checkId('send ps to guest', message.id);
      return encodeLine('ps', [['id', message.id]]);
    case 'poweroff':
      return encodeLine('poweroff', []);
  }
}

function first(tokens: Token[], key: string): string | undefined {
  return tokens.find((t) => t.key === key)?.value;
}

function text(tokens: Token[], key: string): string {
  const v = first(tokens, key);
  return v === undefined ? '' : decodeValue(v);
}

function int(tokens: Token[], key: string, line: string): number {
  const raw = first(tokens, key);
  const n = raw === undefined ? Number.NaN : Number(decodeValue(raw));
  if (!Number.isInteger(n)) {
    throw new AloftError('GUEST_PROTOCOL', `Cannot read guest message as '${key}' must be an integer: got ${JSON.stringify(line.slice(0, 200))}`);
  }
  return n;
}

/** Decodes one guest→host line (without its newline). Unknown verbs give `{type:'unknown'}`; a known verb with a bad field throws GUEST_PROTOCOL. */
export function decodeGuestMessage(line: string): GuestMessage {
  const { verb, tokens } = splitLine(line);
  switch (verb) {
    case 'hello':
      return { type: 'hello', version: int(tokens, 'version', line) };
    case 'started':
      return { type: 'started', pid: int(tokens, 'pid', line) };
    case 'exit': {
      const error = first(tokens, 'error');
      return {
        type: 'exit',
        code: int(tokens, 'code', line),
        signal: int(tokens, 'signal', line),
        oom: text(tokens, 'oom') === '1',
        ...(error === undefined ? {} : { error: decodeValue(error) }),
      };
    }
    case 'fatal':
      return { type: 'fatal', message: text(tokens, 'message') };
    case 'exec_result':
      return {
        type: 'exec_result',
        id: text(tokens, 'id'),
        code: int(tokens, 'code', line),
        signal: int(tokens, 'signal', line),
        timedOut: text(tokens, 'timed_out') === '1',
        stdout: decodeValueBytes(first(tokens, 'stdout') ?? ''),
        stderr: decodeValueBytes(first(tokens, 'stderr') ?? ''),
      };
    case 'signal_result':
      return { type: 'signal_result', id: text(tokens, 'id') };
    case 'pong':
      return { type: 'pong', id: text(tokens, 'id') };
    case 'ps_result':
      return { type: 'ps_result', id: text(tokens, 'id'), processes: decodeProcesses(tokens, line) };
    case 'error':
      return { type: 'error', id: text(tokens, 'id'), message: text(tokens, 'message') };
    default:
      return { type: 'unknown', verb };
  }
}

/** Each process in `ps_result` is the run of tokens from one `pid=` to the next. */
function decodeProcesses(tokens: Token[], line: string): GuestProcess[] {
  const groups: Token[][] = [];
  for (const token of tokens) {
    if (token.key === 'pid') groups.push([]);
    groups.at(-1)?.push(token);
  }
  return groups.map((group) => ({
    pid: int(group, 'pid', line),
    ppid: int(group, 'ppid', line),
    uid: int(group, 'uid', line),
    rssKb: int(group, 'rss_kb', line),
    cpuMs: int(group, 'cpu_ms', line),
    command: text(group, 'cmd'),
  }));
}

/**
 * Cuts a byte stream into lines. Feed it chunks from the socket; it returns the complete
 * lines (without `\n`). Throws GUEST_PROTOCOL when a line grows past `maxLineBytes`.
 */
export class LineSplitter {
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  constructor(private readonly maxLineBytes = MAX_LINE_BYTES) {}

  push(chunk: Buffer): string[] {
    const lines: string[] = [];
    let start = 0;
    for (let nl = chunk.indexOf(0x0a, start); nl !== -1; nl = chunk.indexOf(0x0a, start)) {
      this.pending.push(chunk.subarray(start, nl));
      lines.push(Buffer.concat(this.pending).toString('latin1'));
      this.pending = [];
      this.pendingBytes = 0;
      start = nl + 1;
    }
    if (start < chunk.length) {
      this.pending.push(chunk.subarray(start));
      this.pendingBytes += chunk.length - start;
      if (this.pendingBytes > this.maxLineBytes) {
        this.pending = [];
        this.pendingBytes = 0;
        throw new AloftError('GUEST_PROTOCOL', `Cannot read guest message as 'line' must be at most ${this.maxLineBytes} bytes: got a longer one`);
      }
    }
    return lines;
  }
}
