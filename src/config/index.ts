/**
 * App configuration: fly.toml and aloft.toml as users write them, read into a
 * normalised AppConfig, and the Machine configs (one per process group) it produces.
 */
export { parseAppConfig, parseAppConfigSources, type AppConfig, type ParsedAppConfig, type ConfigWarning } from './app-config.ts';
export { loadAppConfig, findConfigFile, environmentFile, CONFIG_FILE_NAMES, type LoadOptions, type LoadedAppConfig } from './load.ts';
export { machineConfigsFor, DEFAULT_PROCESS_GROUP, goDuration, type GroupMachineConfig, type MachineConfigOptions } from './machine-configs.ts';
export { VM_SIZES } from './vm-sizes.ts';
export { splitShellWords } from './shell-words.ts';
export { appConfigSchema } from './schema.ts';
