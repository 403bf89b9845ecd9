/** The embedded platform of `aloft up`: every part in one process on one host. */
export { startEmbeddedPlatform, type RunningPlatform } from './embedded.ts';
export { defaultSettings, defaultDataDir, checkSettings, type PlatformSettings } from './settings.ts';
export { tokenPath } from './token.ts';
export { startPlatformRegistry, startStandaloneRegistry, registryDir } from './registry.ts';
