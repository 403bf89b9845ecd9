export { Scheduler, type HostInfo } from './scheduler.ts';
