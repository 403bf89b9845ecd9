import type { Command } from 'commander';
import pc from 'picocolors';
import { createLogger } from '../../lib/log.ts';
import { checkSettings, defaultSettings, startEmbeddedPlatform } from '../../platform/index.ts';
import { installMissingTools, requiredTools } from '../../platform/host-tools.ts';
import { ApiClient } from '../api-client.ts';
import { ensureExampleApp, waitForHttp } from '../example.ts';
import { say } from '../output.ts';
import { parseDurationMs } from '../../model/index.ts';
import { invalidField } from '../../lib/errors.ts';

/** `--autostop-interval`: a duration with a unit ("5m", "500ms") or a bare number of ms. */
export function parseInterval(value: string): number {
  const ms = /^\d+$/.test(value) ? Number(value) : parseDurationMs(value);
  if (ms === undefined) throw invalidField('start aloft', 'autostop-interval', 'a duration such as "5m", "30s" or "500ms" (0: off)', value);
  return ms;
}

/** `aloft up`: the whole platform in one process, with the example app, until Ctrl-C. */
export function upCommand(program: Command): void {
  const defaults = defaultSettings();
  program
    .command('up')
    .description('start the embedded platform (API, store, registry, agent, proxy) and the example app')
    .option('--data-dir <dir>', 'where state lives (or ALOFT_DATA_DIR)', defaults.dataDir)
    .option('--api-port <port>', 'the API port', (v) => Number(v), defaults.apiPort)
    .option('--proxy-port <port>', 'the proxy port', (v) => Number(v), defaults.proxyPort)
    .option('--registry-port <port>', 'the image registry port (0: any free one)', (v) => Number(v), defaults.registryPort)
    .option('--domain <domain>', 'apps are served at <app>.<domain>', defaults.domain)
    .option('--region <region>', "this host's region", defaults.region)
    .option('--runtime <runtime>', 'runsc (gVisor) or runc', defaults.runtime)
    .option('--bridge <name>', "the host bridge for Machines' networks", defaults.bridge)
    .option('--ipv4-subnet <cidr>', "the host-local IPv4 subnet for Machines", defaults.ipv4Subnet)
    .option('--host-number <n>', "this host's number in 6PN addresses", (v) => Number(v), defaults.hostNumber)
    .option('--guest-cache <dir>', 'where the microVM guest kernel and initramfs are cached (or ALOFT_GUEST_CACHE)', defaults.guestCacheDir)
    .option('--tls-port <port>', "the proxy's TLS port: https and HTTP/2, a certificate per app (0: any free one)", (v) => Number(v), defaults.tlsPort ?? 8443)
    .option('--no-tls', 'no TLS port')
    .option('--autostop-interval <duration>', 'how often the proxy stops idle excess Machines ("5m", "30s", "500ms"; 0: never)', parseInterval, defaults.autostopIntervalMs)
    .option('--mesh-port <port>', "this host's WireGuard UDP port for the private network (0: any free one)", (v) => Number(v), defaults.meshPort)
    .option('--no-example', 'do not deploy the example app')
    .action(async (opts: { dataDir: string; apiPort: number; proxyPort: number; registryPort: number; domain: string; region: string; runtime: 'runsc' | 'runc'; bridge: string; ipv4Subnet: string; hostNumber: number; guestCache: string; example: boolean; autostopInterval: number; tlsPort: number; tls: boolean; meshPort: number }) => {
      const { guestCache, autostopInterval, tls, tlsPort, ...rest } = opts;
      const settings = checkSettings({ ...defaults, ...rest, guestCacheDir: guestCache, autostopIntervalMs: autostopInterval, tlsPort: tls ? tlsPort : null });
      installMissingTools(requiredTools(settings.runtime), say);
      const log = createLogger({ level: process.env['ALOFT_LOG'] ?? 'warn' });
      const platform = await startEmbeddedPlatform(settings, log);

      let stopping: Promise<void> | undefined;
      const shutdown = (signal: string): void => {
        if (stopping) return;
        say(`\n${signal}: stopping aloft (machines are stopped and will start again with the next 'aloft up')...`);
        stopping = platform.stop().then(
          () => {
            say('aloft stopped.');
            process.exit(0);
          },
          (err: unknown) => {
            process.stderr.write(`aloft failed to stop cleanly: ${(err as Error).message}\n`);
            process.exit(1);
          },
        );
      };
      process.on('SIGINT', () => shutdown('SIGINT'));
      process.on('SIGTERM', () => shutdown('SIGTERM'));

      say(`aloft is up: API ${platform.apiUrl} (token in ${settings.dataDir}/api-token), proxy ${platform.proxyUrl}${platform.proxyTlsUrl ? ` and ${platform.proxyTlsUrl}` : ''}, registry ${platform.registryUrl}, runtime ${settings.runtime}`);
      if (!opts.example) return;
      try {
        const client = new ApiClient({ baseUrl: platform.apiUrl, token: platform.token });
        const machine = await ensureExampleApp(client, settings.dataDir);
        const host = `${'hello'}.${settings.domain}`;
        await waitForHttp(`${platform.proxyUrl}/`, host, 30_000);
        const url = `http://${host}:${settings.proxyPort}`;
        say(`${pc.green('hello is live:')} ${pc.bold(url)}  (1 machine, region ${machine.region})`);
        say(`Try: curl ${url}    Stop: Ctrl-C`);
      } catch (err) {
        process.stderr.write(`${pc.red('Error:')} the example app did not come up: ${(err as Error).message}\n`);
        shutdown('error');
      }
    });
}
