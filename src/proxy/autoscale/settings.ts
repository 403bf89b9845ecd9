import type { MachineConfig } from '../../model/index.ts';
import { httpService } from '../route-entry.ts';

/** What autostop does with an idle, excess Machine. */
export type AutostopMode = 'off' | 'stop' | 'suspend';

/** A Machine's autostart/autostop settings, from the service the proxy routes to. */
export interface AutoscaleSettings {
  /** The proxy may start this Machine when traffic needs it. */
  autostart: boolean;
  autostop: AutostopMode;
  /**
   * Autostop leaves at least this many Machines running in the Machine's region. Fly
   * applies `min_machines_running` to the primary region only (users asked for more,
   * superfly/flyctl#2257); aloft applies it in every region the app runs in.
   */
  minMachinesRunning: number;
  /**
   * aloft's busy endpoint (service key `autostop_busy_path`, e.g. "/busy"): before
   * stopping the Machine the proxy GETs it, and an answer of 423 (Locked) means the
   * Machine is doing background work and stays up. Unset: not asked.
   */
  busyPath: string | undefined;
}

/**
 * The autoscale settings of `config`'s HTTP service. Unset keys are off, as in Fly's
 * Machines API: a Machine config without `autostart` is never started by the proxy
 * (`fly.toml`'s `[http_service]` defaults of true/"stop" belong to the tool that writes
 * the config). `autostop: true` means "stop", `false` means "off".
 */
export function autoscaleOf(config: MachineConfig): AutoscaleSettings {
  const service = httpService(config);
  const raw = service?.autostop;
  const autostop: AutostopMode = raw === true ? 'stop' : raw === false || raw === undefined ? 'off' : raw;
  const busy = (service as { autostop_busy_path?: unknown } | undefined)?.autostop_busy_path;
  return {
    autostart: service?.autostart === true,
    autostop,
    minMachinesRunning: service?.min_machines_running ?? 0,
    busyPath: typeof busy === 'string' && busy.startsWith('/') ? busy : undefined,
  };
}
