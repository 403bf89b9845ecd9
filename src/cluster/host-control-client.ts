import type { HostControl, MachineTarget } from '../agent/host-control.ts';
import type { LogReadOptions, MachineLogLine } from '../agent/logs/index.ts';
import { AloftError, ERROR_CODES, type ErrorCode } from '../lib/errors.ts';
import type { ExecRequest, ExecResult, ProcessInfo } from '../runtime/exec-types.ts';
import type { HostStore } from '../store/host-store.ts';
import { hostControlPath } from './host-control-server.ts';

/** How long a call other than exec or a followed log may take before the host counts as unreachable. */
const CALL_TIMEOUT_MS = 15_000;

export interface RemoteHostControlOptions {
  hosts: Pick<HostStore, 'getHost'>;
  /** The operator token the agents' RPC wants. */
  token: string;
  fetch?: typeof fetch;
}

/**
 * HostControl in a cluster: each call goes to the Machine's host's agent over its RPC
 * (host-control-server.ts), found by the host's `controlUrl` in the registry. A host
 * that is not registered is HOST_NOT_FOUND; one marked down is HOST_DOWN; one that does
 * not answer is HOST_UNAVAILABLE. The agent's own errors (EXEC_TIMEOUT…) come back as
 * they were raised there.
 */
export class RemoteHostControl implements HostControl {
  readonly #o: RemoteHostControlOptions;
  readonly #fetch: typeof fetch;

  constructor(options: RemoteHostControlOptions) {
    this.#o = options;
    this.#fetch = options.fetch ?? fetch;
  }

  async signal(target: MachineTarget, signal: string): Promise<void> {
    await this.#call(target, 'signal', 'signal', { method: 'POST', body: { signal } });
  }

  async exec(target: MachineTarget, request: ExecRequest): Promise<ExecResult> {
    // The host enforces the exec's own timeout; this one only covers a host that went silent.
    return (await this.#call(target, 'exec', 'exec in', { method: 'POST', body: request, timeoutMs: request.timeoutMs + CALL_TIMEOUT_MS })) as ExecResult;
  }

  async ps(target: MachineTarget): Promise<ProcessInfo[]> {
    return (await this.#call(target, 'ps', 'list processes of', { method: 'GET' })) as ProcessInfo[];
  }

  async *logs(target: MachineTarget, options: LogReadOptions): AsyncIterable<MachineLogLine> {
    const query = new URLSearchParams();
    if (options.tail !== undefined) query.set('tail', String(options.tail));
    if (options.follow) query.set('follow', 'true');
    const response = await this.#request(target, 'logs', 'read the logs of', { method: 'GET', query: query.toString(), ...(options.signal ? { signal: options.signal } : {}), timeoutMs: options.follow ? undefined : CALL_TIMEOUT_MS });
    if (!response.body) return;
    const decoder = new TextDecoder();
    let buffered = '';
    try {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        buffered += decoder.decode(chunk, { stream: true });
        let newline: number;
        while ((newline = buffered.indexOf('\n')) >= 0) {
          const text = buffered.slice(0, newline);
          buffered = buffered.slice(newline + 1);
          if (text === '') continue;
          const value = JSON.parse(text) as MachineLogLine | { error: string; code: string };
          if ('error' in value) throw remoteError(value, 'read the logs of', target);
          yield value;
        }
      }
    } catch (err) {
      if (options.signal?.aborted) return; // the reader went away: not an error
      throw err;
    }
  }

  async #call(target: MachineTarget, action: 'signal' | 'exec' | 'ps', verb: string, init: { method: string; body?: unknown; timeoutMs?: number }): Promise<unknown> {
    const response = await this.#request(target, action, verb, { ...init, timeoutMs: init.timeoutMs ?? CALL_TIMEOUT_MS });
    return response.json();
  }

  /** Finds the host's agent, calls it, and turns a refusal into the AloftError it was there. */
  async #request(
    target: MachineTarget,
    action: 'signal' | 'exec' | 'ps' | 'logs',
    verb: string,
    init: { method: string; body?: unknown; query?: string; signal?: AbortSignal; timeoutMs?: number | undefined },
  ): Promise<Response> {
    const host = await this.#o.hosts.getHost(target.hostId);
    if (!host) {
      throw new AloftError('HOST_NOT_FOUND', `Cannot ${verb} machine ${target.machineId} as its host must be registered: got no host ${target.hostId}`, { details: { hostId: target.hostId } });
    }
    if (host.status === 'down') {
      throw new AloftError('HOST_DOWN', `Cannot ${verb} machine ${target.machineId} as its host must be up: got ${host.id} down (${host.downReason ?? 'missed heartbeats'})`, { details: { hostId: host.id } });
    }
    if (host.controlUrl === null) {
      throw new AloftError('HOST_UNAVAILABLE', `Cannot ${verb} machine ${target.machineId} as its host must serve a control endpoint: got none registered for ${host.id}`);
    }
    const url = `${host.controlUrl.replace(/\/$/, '')}${hostControlPath(target, action)}${init.query ? `?${init.query}` : ''}`;
    const signals = [init.signal, init.timeoutMs === undefined ? undefined : AbortSignal.timeout(init.timeoutMs)].filter((s): s is AbortSignal => s !== undefined);
    let response: Response;
    try {
      response = await this.#fetch(url, {
        method: init.method,
        headers: { authorization: `Bearer ${this.#o.token}`, ...(init.body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
        ...(signals.length > 0 ? { signal: AbortSignal.any(signals) } : {}),
      });
    } catch (err) {
      throw new AloftError('HOST_UNAVAILABLE', `Cannot ${verb} machine ${target.machineId} as its host ${host.id} must answer at ${host.controlUrl}: got ${err instanceof Error ? err.message : String(err)}`, { cause: err, details: { hostId: host.id } });
    }
    if (!response.ok) {
      const body = (await response.json().catch(() => ({}))) as { error?: string; code?: string };
      throw remoteError({ error: body.error ?? `HTTP ${response.status}`, code: body.code ?? 'HOST_UNAVAILABLE' }, verb, target);
    }
    return response;
  }
}

/** The agent's error as it was there; an unknown code reads as the host failing. */
function remoteError(body: { error: string; code: string }, verb: string, target: MachineTarget): AloftError {
  const code: ErrorCode = body.code in ERROR_CODES ? (body.code as ErrorCode) : 'HOST_UNAVAILABLE';
  return new AloftError(code, code === 'HOST_UNAVAILABLE' && !(body.code in ERROR_CODES) ? `Cannot ${verb} machine ${target.machineId} as its host must answer: got ${body.error}` : body.error, { details: { hostId: target.hostId } });
}
