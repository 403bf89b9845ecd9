/** The per-host agent (Fly's flyd). */
export { Agent, type AgentOptions } from './agent.ts';
export type { AgentImages } from './ports.ts';
export { LocalHostControl, type HostControl, type MachineTarget } from './host-control.ts';
export { MachineLogs, type MachineLogLine, type LogReadOptions } from './logs/index.ts';
export { CheckRunner, waitForMachineHealthy, type WaitHealthyOptions, type WaitHealthyResult } from './checks/index.ts';
