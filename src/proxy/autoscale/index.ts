/**
 * Autostart and autostop: the proxy starts stopped or suspended Machines when traffic
 * needs them and drains, then stops or suspends, idle excess ones — by writing intents
 * to the store with events from the proxy, as the API does; the agent acts on them.
 */
export { Autostarter, type AutostartOptions, type AutostartResult } from './autostart.ts';
export { Autostopper, type AutostopEvent, type AutostopOptions } from './autostop.ts';
export { autoscaleOf, type AutoscaleSettings, type AutostopMode } from './settings.ts';
export { writeStartIntent, writeStopIntent, type AutoscaleStore } from './intents.ts';
export { isBusy } from './busy.ts';
