import type { Command } from 'commander';
import { invalidField } from '../../lib/errors.ts';
import { createLogger } from '../../lib/log.ts';
import { defaultSettings, startStandaloneRegistry } from '../../platform/index.ts';
import { say } from '../output.ts';

/** `aloft registry`: the image registry of a data dir alone (its tokens), until Ctrl-C. */
export function registryCommand(program: Command): void {
  const defaults = defaultSettings();
  program
    .command('registry')
    .description("run the image registry alone, with the data dir's API tokens")
    .option('--data-dir <dir>', 'where state lives (or ALOFT_DATA_DIR)', defaults.dataDir)
    .option('--host <host>', 'the address to listen on', defaults.registryHost)
    .option('--port <port>', 'the port (0: any free one)', (v) => Number(v), defaults.registryPort)
    .action(async (opts: { dataDir: string; host: string; port: number }) => {
      if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) throw invalidField('start the registry', 'port', 'a port number from 0 to 65535', opts.port);
      const log = createLogger({ level: process.env['ALOFT_LOG'] ?? 'warn' });
      const registry = await startStandaloneRegistry({ dataDir: opts.dataDir, host: opts.host, port: opts.port, log });
      let stopping = false;
      const shutdown = (signal: string): void => {
        if (stopping) return;
        stopping = true;
        say(`\n${signal}: stopping the registry...`);
        void registry.stop().then(() => process.exit(0));
      };
      process.on('SIGINT', () => shutdown('SIGINT'));
      process.on('SIGTERM', () => shutdown('SIGTERM'));
      say(`aloft registry is up: ${registry.url} (data in ${opts.dataDir}/registry; log in with any user name and an API token)    Stop: Ctrl-C`);
    });
}
