export { Scheduler, fixedHosts, type HostInfo, type HostSource } from './scheduler.ts';
export { spread, type SpreadRequest, type Placed, type Shortfall } from './spread.ts';
export { hostLoads, localCapacity, fixedCapacity, unlimitedCapacity, type HostCapacity, type HostLoad, type HostTotals } from './host-load.ts';
export { guestDemand, describeAmount, type Resources } from './resources.ts';
