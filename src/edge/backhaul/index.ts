/** edge/backhaul: an edge proxy on the WireGuard mesh, dialling Machines over 6PN. */
export { BACKHAUL_INTERFACE, BACKHAUL_KEY_FILE, startBackhaul, type BackhaulOptions, type RunningBackhaul } from './backhaul.ts';
export { edgeRegistration, type EdgeIdentity } from './edge-registration.ts';
export { backhaulSettings, type BackhaulFlags, type BackhaulSettings } from './backhaul-flags.ts';
