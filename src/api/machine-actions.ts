import { z } from 'zod';
import { AloftError } from '../lib/errors.ts';
import { machineEvent, type Machine } from '../model/index.ts';
import type { HostControl } from '../agent/host-control.ts';
import type { ProcessInfo } from '../runtime/exec-types.ts';
import type { Store } from '../store/store.ts';
import { refuseUnless } from './transitions.ts';
import { parseInput } from './validate.ts';

/** Exec is bounded: a request holds an HTTP connection open while it runs. */
const MAX_EXEC_SECONDS = 60;
const DEFAULT_EXEC_SECONDS = 30;

/** The signals Fly's `SignalRequest` allows. */
export const FLY_SIGNALS = ['SIGABRT', 'SIGALRM', 'SIGFPE', 'SIGHUP', 'SIGILL', 'SIGINT', 'SIGKILL', 'SIGPIPE', 'SIGQUIT', 'SIGSEGV', 'SIGTERM', 'SIGTRAP', 'SIGUSR1'] as const;

export const signalRequestSchema = z.looseObject({ signal: z.enum(FLY_SIGNALS) });

/** Restart's query: Fly's `timeout` (a Go duration or seconds) and the stop `signal`. */
export const restartQuerySchema = z.object({
  timeout: z
    .string()
    .regex(/^(\d+|(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+)$/, 'a Go duration such as "10s" or a number of seconds')
    .optional(),
  signal: z.enum(FLY_SIGNALS).optional(),
});

/** Fly's `MachineExecRequest`: `command` (argv) or the older `cmd` (one string); timeout in seconds. */
export const execRequestSchema = z.looseObject({
  command: z.array(z.string()).min(1).optional(),
  cmd: z.string().min(1).optional(),
  timeout: z.number().int().min(1).max(MAX_EXEC_SECONDS).optional(),
});

/** `ps`'s sort options. */
export const psQuerySchema = z.object({
  sort_by: z.enum(['pid', 'cpu', 'rss', 'command']).optional(),
  order: z.enum(['asc', 'desc']).optional(),
});


/** What the actions need: the store for intents, the host for direct answers. */
export interface ActionDeps {
  store: Store;
  hostControl?: HostControl | undefined;
}

/** Asks the agent to stop and start the Machine again (`restarting`). Only a started one. */
export async function restartMachine(deps: ActionDeps, machine: Machine, query: Record<string, string>): Promise<void> {
  const request = parseInput(restartQuerySchema, query, 'restart machine');
  refuseUnless('restart', machine, ['started']);
  const timeout = request.timeout === undefined ? undefined : /^\d+$/.test(request.timeout) ? `${request.timeout}s` : request.timeout;
  await deps.store.updateMachine(machine.id, {
    action: 'restart',
    patch: { state: 'restarting' },
    expectState: ['started'],
    events: [machineEvent('restart', 'requested', 'user', { ...(request.signal ? { signal: request.signal } : {}), ...(timeout ? { timeout } : {}) })],
  });
}

/** Asks the agent to freeze the Machine in place (`suspending` → `suspended`). Only a started one. */
export async function suspendMachine(deps: ActionDeps, machine: Machine): Promise<void> {
  refuseUnless('suspend', machine, ['started']);
  await deps.store.updateMachine(machine.id, {
    action: 'suspend',
    patch: { state: 'suspending' },
    expectState: ['started'],
    events: [machineEvent('suspend', 'requested', 'user')],
  });
}

/** Sends a signal to the Machine's main process, through its host. Only a started one. */
export async function signalMachine(deps: ActionDeps, machine: Machine, body: unknown): Promise<void> {
  const request = parseInput(signalRequestSchema, body ?? {}, 'signal machine');
  refuseUnless('signal', machine, ['started']);
  await host(deps, 'signal').signal(target(machine), request.signal);
  await deps.store.appendEvent(machine.id, machineEvent('signal', 'sent', 'user', { signal: request.signal }));
}

/** Fly's exec answer. */
export interface ExecResponse {
  stdout: string;
  stderr: string;
  exit_code: number;
}

/** Runs a command in the Machine and answers what it printed. Only a started one. */
export async function execInMachine(deps: ActionDeps, machine: Machine, body: unknown): Promise<ExecResponse> {
  const request = parseInput(execRequestSchema, body ?? {}, 'exec in machine');
  const args = request.command ?? request.cmd?.trim().split(/\s+/);
  if (args === undefined) {
    throw new AloftError('INVALID_ARGUMENT', "Cannot exec in machine as 'command' must be a non-empty list of strings (or 'cmd' a string): got nothing", {
      details: { field: 'command' },
    });
  }
  refuseUnless('exec in', machine, ['started']);
  const result = await host(deps, 'exec in').exec(target(machine), { args, timeoutMs: (request.timeout ?? DEFAULT_EXEC_SECONDS) * 1000 });
  return { stdout: result.stdout, stderr: result.stderr, exit_code: result.exitCode };
}

/** The Machine's processes in Fly's `ProcessStat` shape. Only a started one. */
export async function listProcesses(deps: ActionDeps, machine: Machine, query: Record<string, string>): Promise<Record<string, unknown>[]> {
  const request = parseInput(psQuerySchema, query, 'list machine processes');
  refuseUnless('list processes of', machine, ['started']);
  const processes = await host(deps, 'list processes of').ps(target(machine));
  const key = request.sort_by ?? 'pid';
  const sign = request.order === 'desc' ? -1 : 1;
  return [...processes].sort((a, b) => sign * compare(a, b, key)).map(renderProcess);
}

/** Sets or clears the cordon flag: a cordoned Machine gets no new proxy traffic. */
export async function cordonMachine(deps: ActionDeps, machine: Machine, cordoned: boolean): Promise<void> {
  refuseUnless(cordoned ? 'cordon' : 'uncordon', machine, ['created', 'starting', 'started', 'stopping', 'stopped', 'suspending', 'suspended', 'restarting', 'updating', 'failed']);
  await deps.store.updateMachine(machine.id, {
    action: cordoned ? 'cordon' : 'uncordon',
    patch: { cordoned },
    events: [machineEvent(cordoned ? 'cordon' : 'uncordon', cordoned ? 'cordoned' : 'uncordoned', 'user')],
  });
}

/**
 * A process in Fly's `ProcessStat` shape. aloft knows the CPU time (as `cpu` and
 * `rtime`, in ms) and the resident memory (`rss`, bytes) where the runtime says; the
 * rest is empty rather than made up.
 */
function renderProcess(p: ProcessInfo): Record<string, unknown> {
  return { pid: p.pid, command: p.command, cpu: p.cpuTimeMs ?? 0, rss: p.rssBytes ?? 0, rtime: p.cpuTimeMs ?? 0, stime: 0, directory: '', listen_sockets: [] };
}

function compare(a: ProcessInfo, b: ProcessInfo, key: 'pid' | 'cpu' | 'rss' | 'command'): number {
  if (key === 'command') return a.command.localeCompare(b.command);
  const value = (p: ProcessInfo): number => (key === 'pid' ? p.pid : key === 'cpu' ? (p.cpuTimeMs ?? 0) : (p.rssBytes ?? 0));
  return value(a) - value(b);
}

function target(machine: Machine): { hostId: string; machineId: string } {
  return { hostId: machine.hostId, machineId: machine.id };
}

function host(deps: ActionDeps, action: string): HostControl {
  if (!deps.hostControl) throw new AloftError('HOST_UNAVAILABLE', `Cannot ${action} machines as this API has no way to reach their hosts`);
  return deps.hostControl;
}
