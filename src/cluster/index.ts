/** Cluster mode: the host registry's live view, heartbeats, the HostMonitor, the agents' RPC, and the `aloft agent` / `aloft api` processes. */
export { HostDirectory, hostInfoOf } from './host-directory.ts';
export { HostHeartbeat, DEFAULT_HEARTBEAT_INTERVAL_MS, type HostHeartbeatOptions } from './host-heartbeat.ts';
export { HostMonitor, HOST_MONITOR_ROLE, type HostMonitorOptions, type SweepResult } from './host-monitor.ts';
export { replaceMachine, replaceHostMachines, replacementRefusal, regionsByDistance, type ReplaceDeps, type ReplaceOutcome } from './replace-machines.ts';
export { hostControlApp, listenHostControl } from './host-control-server.ts';
export { RemoteHostControl, type RemoteHostControlOptions } from './host-control-client.ts';
export { hostRegistration, hostPrefix } from './host-registration.ts';
export { startAgentProcess, type AgentProcessSettings, type RunningAgentProcess } from './agent-process.ts';
export { startApiProcess, type ApiProcessSettings, type RunningApiProcess } from './api-process.ts';
