import { Scheduler } from './scheduler.ts';

/** For tests: a scheduler over one host, `h1` in region `local`, as the embedded platform has. */
export function singleHostScheduler(): Scheduler {
  return new Scheduler([{ id: 'h1', region: 'local', number: 1, ipv4Subnet: '172.19.0.0/16', drivers: ['runsc'] }]);
}
