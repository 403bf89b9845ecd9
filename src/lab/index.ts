/** lab: `aloft lab`, a multi-region world of network namespaces on one machine (routers, anycast edges, delayed backbone). */
export { LAB_ANYCAST, LAB_EDGE_AS, planLab, planNamespaces, resolvePlace, type BackbonePlan, type LabPlan, type LabRequest, type RegionPlan } from './lab-plan.ts';
export { LAB_RTT_MS, labRtt } from './rtt.ts';
export { LAB_NETWORK_TOOLS, LAB_TOOLS } from './lab-tools.ts';
export { planLabPlatform, LAB_DOMAIN, LAB_PORTS, type LabPlatformPlan } from './lab-platform-plan.ts';
export { labApiEnv, ALOFT_BIN } from './lab-platform.ts';
export { labUp, type LabUpOptions } from './lab-up.ts';
export { labDown, type LabDownResult } from './lab-down.ts';
export { labFail, labHeal, type FaultRequest } from './lab-faults.ts';
export { labExec, labStatus, type LabStatus, type RegionStatus } from './lab-status.ts';
export { measureFailover, summarize, type FailoverResult } from './failover.ts';
export { anycastNextHop, sessionsDown, waitConverged } from './lab-wait.ts';
export { birdAt, LAB_ROOT, readLabState, type LabFault, type LabState } from './lab-state.ts';
