import { resolve } from 'node:path';
import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { invalidField } from '../../lib/errors.ts';
import { ApiError, clientFromEnv, type MachineView } from '../api-client.ts';
import { colourState, printJson, printTable, say } from '../output.ts';
import { printChecks } from './machine-checks.ts';

interface AppOption {
  app: string;
}

const appOption = ['-a, --app <name>', 'the app (or ALOFT_APP)', process.env['ALOFT_APP']] as const;

function machinesPath(app: string, id?: string, action?: string): string {
  return `/apps/${encodeURIComponent(app)}/machines${id ? `/${encodeURIComponent(id)}` : ''}${action ? `/${action}` : ''}`;
}

function parseEnv(values: string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const value of values) {
    const eq = value.indexOf('=');
    if (eq <= 0) throw new Error(`Cannot run machine as '--env' must be KEY=VALUE: got "${value}"`);
    env[value.slice(0, eq)] = value.slice(eq + 1);
  }
  return env;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** An image given as a path is sent as an absolute one: the API resolves it on its host. */
function imageRef(image: string): string {
  return existsSync(image) || image.startsWith('.') || image.startsWith('/') ? resolve(image) : image;
}

/** `aloft machine run|list|status|start|stop|destroy`. */
export function machineCommand(program: Command): void {
  const machine = program.command('machine').alias('machines').description('manage machines');

  machine
    .command('run <image>')
    .description('create and start a machine from an image (an OCI layout dir or docker-archive tarball)')
    .requiredOption(...appOption)
    .option('-p, --port <port>', 'the port the app listens on; served through the proxy', (v) => Number(v))
    .option('-e, --env <KEY=VALUE>', 'an environment variable (repeatable)', collect, [])
    .option('-r, --region <region>', 'the region to run in')
    .option('-n, --name <name>', 'the machine name')
    .option('--cmd <command...>', 'override the image command')
    .option('--driver <driver>', "what isolates it: 'oci' (gVisor/runc sandbox) or 'microvm' (QEMU); default: the host's")
    .option('--vm-memory <mb>', 'memory in MB', (v) => Number(v))
    .option('--vm-cpus <n>', 'number of CPUs', (v) => Number(v))
    .option('--autostart', "the proxy starts it when a request finds no Machine of the app running (needs --port)")
    .option('--autostop <mode>', "the proxy stops or suspends it when idle: 'stop', 'suspend' or 'off' (needs --port)")
    .option('--detach', 'do not wait for the machine to start')
    .option('--json', 'print the machine as JSON')
    .action(async (image: string, opts: AppOption & { autostart?: boolean; autostop?: string; port?: number; env: string[]; region?: string; name?: string; cmd?: string[]; driver?: string; vmMemory?: number; vmCpus?: number; detach?: boolean; json?: boolean }) => {
      const client = await clientFromEnv();
      const config: Record<string, unknown> = { image: imageRef(image), env: parseEnv(opts.env) };
      if (opts.port === undefined && (opts.autostart !== undefined || opts.autostop !== undefined)) {
        throw invalidField('run the machine', opts.autostart !== undefined ? 'autostart' : 'autostop', 'given with --port (the proxy starts and stops Machines that have a service)', opts.autostart ?? opts.autostop);
      }
      if (opts.port !== undefined) {
        config['services'] = [
          {
            protocol: 'tcp',
            internal_port: opts.port,
            ports: [
              { port: 80, handlers: ['http'] },
              { port: 443, handlers: ['tls', 'http'] },
            ],
            // Sent as given: the API checks autostop's value and names the field.
            ...(opts.autostart === undefined ? {} : { autostart: true }),
            ...(opts.autostop === undefined ? {} : { autostop: opts.autostop }),
          },
        ];
      }
      if (opts.cmd) config['init'] = { cmd: opts.cmd };
      // Sent as given: the API validates each field and names it in its error.
      const guest: Record<string, unknown> = {};
      if (opts.driver !== undefined) guest['driver'] = opts.driver;
      if (opts.vmMemory !== undefined) guest['memory_mb'] = opts.vmMemory;
      if (opts.vmCpus !== undefined) guest['cpus'] = opts.vmCpus;
      if (Object.keys(guest).length > 0) config['guest'] = guest;
      const created = await client.post<MachineView>(machinesPath(opts.app), {
        config,
        ...(opts.region ? { region: opts.region } : {}),
        ...(opts.name ? { name: opts.name } : {}),
      });
      if (!opts.detach) {
        // A Machine that fails to start ends the wait at once; what went wrong is printed below.
        await client.get(`${machinesPath(opts.app, created.id, 'wait')}?state=started&timeout=60`).catch((err: unknown) => {
          if (!(err instanceof ApiError && err.code === 'WAIT_UNREACHABLE')) throw err;
        });
      }
      const current = await client.get<MachineView>(machinesPath(opts.app, created.id));
      if (opts.json) return printJson(current);
      say(`Machine ${current.id} (${current.name}) is ${colourState(current.state)} in region ${current.region}`);
      if (current.state === 'failed') {
        const failure = current.events.find((e) => e.status === 'failed');
        if (failure?.request?.['error']) say(`  ${String(failure.request['error'])}`);
      }
    });

  machine
    .command('list')
    .alias('ls')
    .description("list an app's machines")
    .requiredOption(...appOption)
    .option('--all', 'include destroyed machines')
    .option('--json', 'print JSON')
    .action(async (opts: AppOption & { all?: boolean; json?: boolean }) => {
      const client = await clientFromEnv();
      const machines = await client.get<MachineView[]>(`${machinesPath(opts.app)}${opts.all ? '?include_deleted=true' : ''}`);
      if (opts.json) return printJson(machines);
      if (machines.length === 0) return say(`App ${opts.app} has no machines. Run one with: aloft machine run IMAGE --app ${opts.app}`);
      printTable(
        ['ID', 'NAME', 'STATE', 'REGION', 'IMAGE', 'PRIVATE IP', 'UPDATED'],
        machines.map((m) => [m.id, m.name, colourState(m.state), m.region, `${m.image_ref.repository}:${m.image_ref.tag}`, m.private_ip, m.updated_at]),
      );
    });

  machine
    .command('status <id>')
    .description("show a machine's state, health checks and recent events")
    .requiredOption(...appOption)
    .option('--json', 'print JSON')
    .action(async (id: string, opts: AppOption & { json?: boolean }) => {
      const client = await clientFromEnv();
      const m = await client.get<MachineView>(machinesPath(opts.app, id));
      if (opts.json) return printJson(m);
      say(`Machine ${m.id} (${m.name})`);
      say(`  state      ${colourState(m.state)}`);
      say(`  region     ${m.region}`);
      say(`  image      ${m.image_ref.repository}:${m.image_ref.tag} ${m.image_ref.digest}`);
      say(`  private ip ${m.private_ip}`);
      say(`  version    ${m.instance_id}`);
      printChecks(m.checks ?? []);
      say('Events (newest first):');
      printTable(
        ['TIME', 'TYPE', 'STATUS', 'SOURCE', 'DETAIL'],
        m.events.map((e) => [new Date(e.timestamp).toISOString(), e.type, e.status, e.source, e.request ? JSON.stringify(e.request) : '']),
      );
    });

  machine
    .command('start <id>')
    .description('start a stopped machine')
    .requiredOption(...appOption)
    .action(async (id: string, opts: AppOption) => {
      const client = await clientFromEnv();
      await client.post(machinesPath(opts.app, id, 'start'));
      await client.get(`${machinesPath(opts.app, id, 'wait')}?state=started&timeout=60`);
      say(`Machine ${id} is ${colourState('started')}`);
    });

  machine
    .command('stop <id>')
    .description('stop a machine (its stop signal, then SIGKILL after the timeout)')
    .requiredOption(...appOption)
    .option('-s, --signal <signal>', 'the signal to send, e.g. SIGTERM')
    .option('--timeout <duration>', 'how long to wait before SIGKILL, e.g. 10s')
    .action(async (id: string, opts: AppOption & { signal?: string; timeout?: string }) => {
      const client = await clientFromEnv();
      // Fly's wait for stopped needs the version: the one running now.
      const { instance_id: version } = await client.get<MachineView>(machinesPath(opts.app, id));
      await client.post(machinesPath(opts.app, id, 'stop'), { ...(opts.signal ? { signal: opts.signal } : {}), ...(opts.timeout ? { timeout: opts.timeout } : {}) });
      await client.get(`${machinesPath(opts.app, id, 'wait')}?state=stopped&instance_id=${encodeURIComponent(version)}&timeout=60`);
      say(`Machine ${id} is stopped`);
    });

  machine
    .command('destroy <id>')
    .alias('rm')
    .description('destroy a machine')
    .requiredOption(...appOption)
    .option('-f, --force', 'destroy it even if it is running')
    .action(async (id: string, opts: AppOption & { force?: boolean }) => {
      const client = await clientFromEnv();
      await client.delete(`${machinesPath(opts.app, id)}${opts.force ? '?force=true' : ''}`);
      await client.get(`${machinesPath(opts.app, id, 'wait')}?state=destroyed&timeout=60`);
      say(`Machine ${id} destroyed`);
    });
}
