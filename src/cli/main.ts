import { Command, CommanderError } from 'commander';
import { appsCommand } from './commands/apps.ts';
import { machineCommand } from './commands/machine.ts';
import { machineOpsCommands } from './commands/machine-ops.ts';
import { machineLogsCommand } from './commands/machine-logs.ts';
import { leaseCommand } from './commands/lease.ts';
import { orgsCommand } from './commands/orgs.ts';
import { tokensCommand } from './commands/tokens.ts';
import { statusCommand } from './commands/status.ts';
import { upCommand } from './commands/up.ts';
import { registryCommand } from './commands/registry.ts';
import { dnsCommand } from './commands/dns.ts';
import { proxyCommand } from './commands/proxy.ts';
import { imagesCommand } from './commands/images.ts';
import { volumesCommand } from './commands/volumes.ts';
import { configCommand } from './commands/config.ts';
import { secretsCommand } from './commands/secrets.ts';
import { wireguardCommand } from './commands/wireguard.ts';
import { ipsCommand } from './commands/ips.ts';
import { scaleCommand } from './commands/scale.ts';
import { regionsCommand } from './commands/regions.ts';
import { launchCommand } from './commands/launch.ts';
import { labCommand } from './commands/lab.ts';
import { edgeCommand } from './commands/edge.ts';
import { deployCommand } from './commands/deploy.ts';
import { releasesCommand } from './commands/releases.ts';
import { clusterCommands } from './commands/cluster.ts';
import { sayError } from './output.ts';

/**
 * The `aloft` command. It talks to the platform only through the API. Errors are one
 * line on stderr and exit code 1; a stack trace is printed only with ALOFT_DEBUG=1.
 */
// `aloft … | head` closes the pipe before we are done writing: that is the reader
// having read enough, not an error worth a stack trace.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

const program = new Command('aloft')
  .description('run apps as Machines on servers you own')
  .version('0.1.0')
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride();

upCommand(program);
appsCommand(program);
machineCommand(program);
machineOpsCommands(program);
machineLogsCommand(program);
leaseCommand(program); // after machineCommand: it adds `machine lease`
orgsCommand(program);
tokensCommand(program);
statusCommand(program);
volumesCommand(program);
configCommand(program);
secretsCommand(program);
wireguardCommand(program);
ipsCommand(program);
registryCommand(program);
dnsCommand(program);
proxyCommand(program);
imagesCommand(program);
deployCommand(program);
releasesCommand(program);
scaleCommand(program);
regionsCommand(program);
launchCommand(program);
edgeCommand(program);
labCommand(program);
clusterCommands(program); // `aloft agent`, `aloft api`

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    process.exit(err.exitCode === 0 ? 0 : 1);
  }
  if (process.env['ALOFT_DEBUG']) console.error(err);
  sayError(err instanceof Error ? err.message : String(err));
  process.exit(1);
}
