/** net/isolation: each host's nftables rules that keep orgs' private networks apart. */
export { HostFirewall, type HostFirewallOptions } from './host-firewall.ts';
export { checkPolicy, type CheckedPolicy, type EdgeAccess, type EdgeTarget, type HostService, type IsolationOrg, type IsolationPolicy, type MachinePort } from './policy.ts';
export { DROP_COUNTERS, renderRuleset, TABLE, TABLE_NAME, type DropCounter } from './ruleset.ts';
