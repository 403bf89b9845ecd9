import { invalidField } from '../lib/errors.ts';
import { constants } from 'node:os';
import type { ExitStatus } from './driver.ts';

const SIGNAL_NAMES = new Map<number, string>(
  Object.entries(constants.signals).map(([name, number]) => [number, name] as [number, string]),
);

/**
 * Turns a runtime's exit code into an ExitStatus. runc and runsc report a process
 * killed by signal N as 128+N (as shells do), so 129…192 with a known signal become
 * `{ exitCode: null, signal }`. A process that itself exits with such a code reads the
 * same: the runtimes give no way to tell them apart.
 */
export function exitStatusFromCode(code: number): ExitStatus {
  const name = code > 128 ? SIGNAL_NAMES.get(code - 128) : undefined;
  return name === undefined ? { exitCode: code, signal: null } : { exitCode: null, signal: name };
}

/** A signal as a number, from "SIGTERM", "TERM" or "15"; undefined when unknown. */
export function signalNumber(signal: string): number | undefined {
  if (/^\d+$/.test(signal)) {
    const number = Number(signal);
    return SIGNAL_NAMES.has(number) ? number : undefined;
  }
  const name = signal.toUpperCase().startsWith('SIG') ? signal.toUpperCase() : `SIG${signal.toUpperCase()}`;
  return (constants.signals as Record<string, number | undefined>)[name];
}

/** The number of a signal a user named for `signal machine`; INVALID_ARGUMENT otherwise. */
export function requireSignalNumber(signal: string): number {
  const number = signalNumber(signal);
  if (number === undefined) throw invalidField('signal machine', 'signal', 'a signal name like SIGTERM', signal);
  return number;
}
