import { splitShellWords } from '../config/index.ts';
import { AloftError, formatValue } from '../lib/errors.ts';
import type { MachineConfig } from '../model/index.ts';
import { PROCESS_GROUP_KEY, ROLE_KEY } from './plan.ts';
import { FAILED_LOG_LINES, forRelease, type RolloutContext } from './rollout.ts';

/** Fly's default for `release_command_timeout`. */
export const DEFAULT_RELEASE_COMMAND_TIMEOUT_MS = 5 * 60_000;
/** The process group name flyctl gives the release command's Machine. */
export const RELEASE_COMMAND_GROUP = 'fly_app_release_command';

/**
 * The throwaway Machine's config: the new image and the app's env (with
 * RELEASE_COMMAND=1, as Fly sets), the command as `init.cmd` (the image's entrypoint
 * still runs it, as on Fly), no services or checks (the proxy never routes to it), no
 * volume, restart policy `no`, and `auto_destroy`.
 */
export function releaseCommandConfig(command: string, template: MachineConfig): MachineConfig {
  const argv = splitShellWords(command);
  if (!argv || argv.length === 0) {
    throw new AloftError('CONFIG_INVALID', `Cannot run the release command as 'deploy.release_command' must be a command with balanced quotes: got ${formatValue(command)}`);
  }
  return {
    image: template.image,
    env: { ...template.env, RELEASE_COMMAND: '1' },
    init: { ...(template.init?.entrypoint ? { entrypoint: template.init.entrypoint } : {}), cmd: argv },
    ...(template.guest ? { guest: template.guest } : {}),
    restart: { policy: 'no' },
    auto_destroy: true,
    metadata: { [PROCESS_GROUP_KEY]: RELEASE_COMMAND_GROUP, [ROLE_KEY]: 'release_command' },
  };
}

/**
 * Runs `release_command` before any rollout, in a throwaway Machine of the new image,
 * and waits for its exit (at most `timeoutMs`). Its output is emitted line by line
 * after it ends. A non-zero exit, a start failure or the timeout throws
 * RELEASE_COMMAND_FAILED with the last lines; the Machine is destroyed either way.
 */
export async function runReleaseCommand(ctx: RolloutContext, command: string, template: MachineConfig, region: string | undefined, timeoutMs: number): Promise<void> {
  const config = forRelease(releaseCommandConfig(command, template), ctx.release);
  const machine = await ctx.fleet.create(config, region);
  ctx.emit({ type: 'release_command', message: `running release command "${command}" in ${machine.id}`, machine: machine.id, step: 'start' });
  try {
    const ended = await ctx.fleet.waitStopped(machine.id, timeoutMs);
    const lines = await ctx.fleet.logTail(machine, FAILED_LOG_LINES * 5);
    if (lines.length > 0) ctx.emit({ type: 'logs', message: `release command output (${lines.length} lines)`, machine: machine.id, lines });
    const tail = lines.length > 0 ? `; its last log lines:\n  ${lines.slice(-10).join('\n  ')}` : '';
    if (!ended) {
      throw new AloftError('RELEASE_COMMAND_FAILED', `Cannot deploy app ${ctx.fleet.appName} as release command "${command}" must exit within ${Math.round(timeoutMs / 1000)}s (release_command_timeout): got it still running${tail}`, {
        details: { machineId: machine.id, logs: lines },
      });
    }
    const exitCode = ended.state === 'failed' ? null : await ctx.fleet.exitCode(machine.id);
    if (exitCode !== 0) {
      const got = ended.state === 'failed' ? 'a Machine that failed to start' : exitCode === null ? 'no exit code' : `exit code ${exitCode}`;
      throw new AloftError('RELEASE_COMMAND_FAILED', `Cannot deploy app ${ctx.fleet.appName} as release command "${command}" must exit 0: got ${got}${tail}`, {
        details: { machineId: machine.id, exitCode, logs: lines },
      });
    }
    ctx.emit({ type: 'release_command', message: `release command exited 0`, machine: machine.id, step: 'exit', exitCode: 0 });
  } finally {
    await ctx.fleet.destroy(machine, ctx.waitTimeoutMs);
  }
}
