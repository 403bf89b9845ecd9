import { relative } from 'node:path';
import type { Command } from 'commander';
import pc from 'picocolors';
import { findConfigFile, loadAppConfig, machineConfigsFor, type LoadedAppConfig } from '../../config/index.ts';
import { printJson, say } from '../output.ts';

interface ConfigOptions {
  config?: string;
  environment?: string;
}

/** Shown as the image when neither --image nor [build] image names one: a deploy builds it. */
const IMAGE_TO_BUILD = '<built by aloft deploy>';

function load(opts: ConfigOptions): LoadedAppConfig {
  // Found files are named as the user would type them (fly.toml), not by absolute path.
  const path = opts.config ?? relative(process.cwd(), findConfigFile(process.cwd()));
  return loadAppConfig(path, opts.environment === undefined ? {} : { environment: opts.environment });
}

function sayWarnings(loaded: LoadedAppConfig): void {
  for (const w of loaded.warnings) say(`${pc.yellow('warning:')} ${w.message}`);
}

/**
 * `aloft config validate` and `aloft config show`: read fly.toml / aloft.toml (or
 * `--config FILE`, with `--environment NAME` for its `<file>.<NAME>.toml` over it)
 * without touching the platform. No API call: they work offline.
 */
export function configCommand(program: Command): void {
  const config = program.command('config').description('read and check an app config (aloft.toml or fly.toml)');
  const withFile = (cmd: Command): Command =>
    cmd
      .option('-c, --config <file>', 'the config file (default: aloft.toml, else fly.toml, in this directory)')
      .option('--environment <name>', 'read <file>.<name>.toml over the config (e.g. fly.staging.toml)');

  withFile(config.command('validate').description('check the config: warnings for unknown keys, exit 1 on an invalid value')).action((opts: ConfigOptions) => {
    const loaded = load(opts);
    // Building the Machine configs checks what only they can (VM sizes, one mount per group).
    machineConfigsFor(loaded.config, { image: loaded.config.build?.image ?? IMAGE_TO_BUILD });
    sayWarnings(loaded);
    const n = loaded.warnings.length;
    say(`${loaded.files.join(' + ')} is valid${n > 0 ? ` (${n} warning${n === 1 ? '' : 's'})` : ''}`);
  });

  withFile(config.command('show').description('print the normalised config and the Machine config of each process group'))
    .option('--image <ref>', 'the image the Machines run (default: [build] image)')
    .option('--json', 'print JSON')
    .action((opts: ConfigOptions & { image?: string; json?: boolean }) => {
      const loaded = load(opts);
      const machines = machineConfigsFor(loaded.config, { image: opts.image ?? loaded.config.build?.image ?? IMAGE_TO_BUILD });
      if (opts.json) return printJson({ files: loaded.files, warnings: loaded.warnings, config: loaded.config, machines });
      sayWarnings(loaded);
      say(pc.bold(`${loaded.files.join(' + ')}, normalised:`));
      say(JSON.stringify(loaded.config, null, 2));
      for (const m of machines) {
        say(pc.bold(`\nMachine config of process group '${m.processGroup}':`));
        say(JSON.stringify(m.config, null, 2));
      }
    });
}
