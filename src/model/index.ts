/** The domain model shared by every part: machine config, states, events. */
export * from './machine-config.ts';
export * from './machine.ts';
export * from './check-status.ts';
export * from './events.ts';
export * from './volume.ts';
export * from './regions.ts';
