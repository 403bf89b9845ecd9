import type { Command } from 'commander';
import { readTokenFile } from '../../cluster/token-file.ts';
import { invalidField } from '../../lib/errors.ts';
import { createLogger } from '../../lib/log.ts';
import { defaultSettings, startStandaloneRegistry } from '../../platform/index.ts';
import { say } from '../output.ts';

interface RegistryFlags {
  dataDir: string;
  store?: string;
  tokenFile?: string;
  host: string;
  port: number;
}

/**
 * `aloft registry`: the image registry of a data dir alone (its tokens), until Ctrl-C. In
 * cluster mode `--store` is the cluster's store, so org tokens minted through any `aloft api`
 * work, and `--token-file` the API's operator token, which agents pull with.
 */
export function registryCommand(program: Command): void {
  const defaults = defaultSettings();
  program
    .command('registry')
    .description("run the image registry alone, with the API's tokens (the data dir's store or --store)")
    .option('--data-dir <dir>', 'where state lives (or ALOFT_DATA_DIR): the images, and the store unless --store', defaults.dataDir)
    .option('--store <url>', "the store holding the tokens: sqlite:/abs/path/aloft.db or etcd://host:port,… (default: the data dir's aloft.db)")
    .option('--token-file <path>', "the operator token (the API's <data-dir>/api-token; default: the data dir's own)")
    .option('--host <host>', 'the address to listen on', defaults.registryHost)
    .option('--port <port>', 'the port (0: any free one)', (v) => Number(v), defaults.registryPort)
    .action(async (opts: RegistryFlags) => {
      if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) throw invalidField('start the registry', 'port', 'a port number from 0 to 65535', opts.port);
      const log = createLogger({ level: process.env['ALOFT_LOG'] ?? 'warn' });
      const operatorToken = opts.tokenFile === undefined ? undefined : await readTokenFile(opts.tokenFile, 'start the registry');
      const registry = await startStandaloneRegistry({
        dataDir: opts.dataDir,
        host: opts.host,
        port: opts.port,
        ...(opts.store === undefined ? {} : { storeUrl: opts.store }),
        ...(operatorToken === undefined ? {} : { operatorToken }),
        log,
      });
      let stopping = false;
      const shutdown = (signal: string): void => {
        if (stopping) return;
        stopping = true;
        say(`\n${signal}: stopping the registry...`);
        void registry.stop().then(() => process.exit(0));
      };
      process.on('SIGINT', () => shutdown('SIGINT'));
      process.on('SIGTERM', () => shutdown('SIGTERM'));
      say(`aloft registry is up: ${registry.url} (images in ${opts.dataDir}/registry, tokens from ${opts.store ?? opts.dataDir}; log in with any user name and an API token)    Stop: Ctrl-C`);
    });
}
