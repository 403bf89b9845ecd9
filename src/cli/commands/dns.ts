import type { Command } from 'commander';
import { invalidField } from '../../lib/errors.ts';
import { createLogger } from '../../lib/log.ts';
import { DNS_PRIVATE_ADDRESS, parseUpstream } from '../../dns/index.ts';
import { startStandaloneDns } from '../../dns/standalone.ts';
import { defaultSettings } from '../../platform/index.ts';
import { say } from '../output.ts';

interface DnsFlags {
  dataDir: string;
  store?: string;
  host: string;
  port: number;
  region: string;
  upstream?: string;
  forward: boolean;
  rtt?: string;
}

/** `aloft dns`: the private DNS server (`.internal` names) of a data dir, until Ctrl-C. */
export function dnsCommand(program: Command): void {
  const defaults = defaultSettings();
  program
    .command('dns')
    .description("serve the private DNS (<app>.internal …) from a data dir's store or --store; other names go upstream")
    .option('--data-dir <dir>', 'where state lives (or ALOFT_DATA_DIR): the store unless --store', defaults.dataDir)
    .option('--store <url>', "the store to answer from: sqlite:/abs/path/aloft.db or etcd://host:port,… (default: the data dir's aloft.db)")
    .option('--host <address>', "the address to listen on (Machines' resolver)", DNS_PRIVATE_ADDRESS)
    .option('--port <port>', 'the UDP and TCP port (0: any free one)', (v) => Number(v), 53)
    .option('--region <region>', "this host's region (for top<N>.nearest.of)", defaults.region)
    .option('--upstream <address>', 'where other names go, e.g. 1.1.1.1 or [fdaa::3]:53 (default: /etc/resolv.conf)')
    .option('--no-forward', 'answer only .internal names (others REFUSED)')
    .option('--rtt <file>', 'a JSON file of region round-trip times: {"ams": {"iad": 80}}')
    .action(async (flags: DnsFlags) => {
      if (!Number.isInteger(flags.port) || flags.port < 0 || flags.port > 65535) throw invalidField('start DNS', 'port', 'a port number from 0 to 65535', flags.port);
      const upstream = !flags.forward ? null : flags.upstream === undefined ? undefined : parseUpstream(flags.upstream);
      const log = createLogger({ level: process.env['ALOFT_LOG'] ?? 'warn' });
      const dns = await startStandaloneDns({
        dataDir: flags.dataDir,
        ...(flags.store === undefined ? {} : { storeUrl: flags.store }),
        host: flags.host,
        port: flags.port,
        region: flags.region,
        ...(upstream === undefined ? {} : { upstream }),
        ...(flags.rtt === undefined ? {} : { rttFile: flags.rtt }),
        log,
      });
      let stopping = false;
      const shutdown = (signal: string): void => {
        if (stopping) return;
        stopping = true;
        say(`\n${signal}: stopping DNS...`);
        void dns.close().then(() => process.exit(0));
      };
      process.on('SIGINT', () => shutdown('SIGINT'));
      process.on('SIGTERM', () => shutdown('SIGTERM'));
      const where = dns.host.includes(':') ? `[${dns.host}]:${dns.port}` : `${dns.host}:${dns.port}`;
      const forward = dns.upstream === undefined ? 'other names refused' : `other names to ${dns.upstream.host}:${dns.upstream.port}`;
      say(`aloft dns is up on ${where} (udp, tcp); .internal from ${flags.store ?? flags.dataDir}, ${forward}    Stop: Ctrl-C`);
    });
}
