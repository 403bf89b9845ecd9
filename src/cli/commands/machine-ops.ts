import type { Command } from 'commander';
import { clientFromEnv, type ApiClient, type MachineView } from '../api-client.ts';
import { colourState, printJson, printTable, say } from '../output.ts';

const appOption = ['-a, --app <name>', 'the app (or ALOFT_APP)', process.env['ALOFT_APP']] as const;

interface AppOption {
  app: string;
}

function path(app: string, id: string, action?: string): string {
  return `/apps/${encodeURIComponent(app)}/machines/${encodeURIComponent(id)}${action ? `/${action}` : ''}`;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function parseEnv(values: string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const value of values) {
    const eq = value.indexOf('=');
    if (eq <= 0) throw new Error(`Cannot update machine as '--env' must be KEY=VALUE: got "${value}"`);
    env[value.slice(0, eq)] = value.slice(eq + 1);
  }
  return env;
}

/** Waits (server side, up to 60 s) for a state; `stopped` needs the version, as Fly's wait does. */
async function waitFor(client: ApiClient, app: string, id: string, state: string, instanceId?: string): Promise<void> {
  const version = instanceId ? `&instance_id=${encodeURIComponent(instanceId)}` : '';
  await client.get(`${path(app, id, 'wait')}?state=${state}&timeout=60${version}`);
}

/** A port given on the command line becomes Fly's usual HTTP service on 80/443. */
function httpService(port: number): Record<string, unknown> {
  return {
    protocol: 'tcp',
    internal_port: port,
    ports: [
      { port: 80, handlers: ['http'] },
      { port: 443, handlers: ['tls', 'http'] },
    ],
  };
}

/**
 * `aloft machine update|restart|suspend|signal|kill|exec|cordon|uncordon|wait|clone|ps|events|versions`:
 * the machine operations beyond run/start/stop/destroy.
 */
export function machineOpsCommands(program: Command): void {
  const machine = program.commands.find((c) => c.name() === 'machine');
  if (!machine) throw new Error('machineOpsCommands must be registered after machineCommand');

  machine
    .command('update <id>')
    .description("replace a machine's config (a new version); a running machine restarts on it")
    .requiredOption(...appOption)
    .option('-i, --image <image>', 'the new image')
    .option('-e, --env <KEY=VALUE>', 'set an environment variable (repeatable)', collect, [])
    .option('-p, --port <port>', 'the port the app listens on', (v) => Number(v))
    .option('--skip-start', 'do not start a stopped machine')
    .option('--json', 'print the machine as JSON')
    .action(async (id: string, opts: AppOption & { image?: string; env: string[]; port?: number; skipStart?: boolean; json?: boolean }) => {
      const client = await clientFromEnv();
      const current = await client.get<MachineView>(path(opts.app, id));
      const config: Record<string, unknown> = { ...current.config };
      if (opts.image) config['image'] = opts.image;
      if (opts.env.length > 0) config['env'] = { ...(config['env'] as Record<string, string> | undefined), ...parseEnv(opts.env) };
      if (opts.port !== undefined) config['services'] = [httpService(opts.port)];
      const updated = await client.post<MachineView>(path(opts.app, id), { config, current_version: current.instance_id, ...(opts.skipStart ? { skip_launch: true } : {}) });
      if (updated.state === 'updating') await waitFor(client, opts.app, id, 'started');
      if (opts.json) return printJson(await client.get<MachineView>(path(opts.app, id)));
      say(`Machine ${id} updated to version ${updated.instance_id}${updated.state === 'updating' ? ` and is ${colourState('started')}` : ''}`);
    });

  machine
    .command('restart <id>')
    .description('stop and start a machine')
    .requiredOption(...appOption)
    .option('-s, --signal <signal>', 'the stop signal, e.g. SIGTERM')
    .option('--timeout <duration>', 'how long to wait before SIGKILL, e.g. 10s')
    .action(async (id: string, opts: AppOption & { signal?: string; timeout?: string }) => {
      const client = await clientFromEnv();
      const query = new URLSearchParams({ ...(opts.signal ? { signal: opts.signal } : {}), ...(opts.timeout ? { timeout: opts.timeout } : {}) }).toString();
      await client.post(`${path(opts.app, id, 'restart')}${query ? `?${query}` : ''}`);
      await waitFor(client, opts.app, id, 'started');
      say(`Machine ${id} restarted`);
    });

  machine
    .command('suspend <id>')
    .description('freeze a machine in place; start resumes it')
    .requiredOption(...appOption)
    .action(async (id: string, opts: AppOption) => {
      const client = await clientFromEnv();
      await client.post(path(opts.app, id, 'suspend'));
      await waitFor(client, opts.app, id, 'suspended');
      say(`Machine ${id} is suspended`);
    });

  const sendSignal = async (id: string, app: string, signal: string): Promise<void> => {
    const client = await clientFromEnv();
    await client.post(path(app, id, 'signal'), { signal });
    say(`Sent ${signal} to machine ${id}`);
  };

  machine
    .command('signal <id>')
    .description("send a signal to a machine's main process")
    .requiredOption(...appOption)
    .requiredOption('-s, --signal <signal>', 'the signal, e.g. SIGUSR1')
    .action((id: string, opts: AppOption & { signal: string }) => sendSignal(id, opts.app, opts.signal));

  machine
    .command('kill <id>')
    .description("SIGKILL a machine's main process (its restart policy then applies)")
    .requiredOption(...appOption)
    .action((id: string, opts: AppOption) => sendSignal(id, opts.app, 'SIGKILL'));

  machine
    .command('exec <id> <command...>')
    .description('run a command in a machine: aloft machine exec ID -- cmd args')
    .requiredOption(...appOption)
    .option('--timeout <seconds>', 'how long it may run (at most 60)', (v) => Number(v))
    .option('--json', 'print the result as JSON')
    .action(async (id: string, command: string[], opts: AppOption & { timeout?: number; json?: boolean }) => {
      const client = await clientFromEnv();
      const result = await client.post<{ stdout: string; stderr: string; exit_code: number }>(path(opts.app, id, 'exec'), {
        command,
        ...(opts.timeout === undefined ? {} : { timeout: opts.timeout }),
      });
      if (opts.json) return printJson(result);
      process.stdout.write(result.stdout);
      process.stderr.write(result.stderr);
      process.exitCode = result.exit_code;
    });

  for (const [name, description] of [
    ['cordon', 'keep new proxy traffic away from a machine'],
    ['uncordon', 'let the proxy route to a machine again'],
  ] as const) {
    machine
      .command(`${name} <id>`)
      .description(description)
      .requiredOption(...appOption)
      .action(async (id: string, opts: AppOption) => {
        const client = await clientFromEnv();
        await client.post(path(opts.app, id, name));
        say(`Machine ${id} ${name}ed`);
      });
  }

  machine
    .command('wait <id>')
    .description('wait until a machine reaches a state (at most 60 s)')
    .requiredOption(...appOption)
    .option('--state <state>', 'started, stopped, suspended or destroyed', 'started')
    .option('--instance-id <version>', 'the version that must reach it (default: the current one, for stopped)')
    .action(async (id: string, opts: AppOption & { state: string; instanceId?: string }) => {
      const client = await clientFromEnv();
      const version = opts.instanceId ?? (opts.state === 'stopped' ? (await client.get<MachineView>(path(opts.app, id))).instance_id : undefined);
      await waitFor(client, opts.app, id, opts.state, version);
      say(`Machine ${id} is ${colourState(opts.state)}`);
    });

  machine
    .command('clone <id>')
    .description("create a new machine from a machine's config")
    .requiredOption(...appOption)
    .option('--json', 'print the new machine as JSON')
    .action(async (id: string, opts: AppOption & { json?: boolean }) => {
      const client = await clientFromEnv();
      const source = await client.get<MachineView>(path(opts.app, id));
      const created = await client.post<MachineView>(`/apps/${encodeURIComponent(opts.app)}/machines`, { config: source.config, region: source.region });
      await waitFor(client, opts.app, created.id, 'started');
      if (opts.json) return printJson(await client.get<MachineView>(path(opts.app, created.id)));
      say(`Machine ${created.id} (${created.name}) cloned from ${id} is ${colourState('started')}`);
    });

  machine
    .command('ps <id>')
    .description("list a machine's processes")
    .requiredOption(...appOption)
    .option('--json', 'print JSON')
    .action(async (id: string, opts: AppOption & { json?: boolean }) => {
      const client = await clientFromEnv();
      const rows = await client.get<{ pid: number; command: string; cpu: number; rss: number }[]>(path(opts.app, id, 'ps'));
      if (opts.json) return printJson(rows);
      printTable(['PID', 'CPU(ms)', 'RSS', 'COMMAND'], rows.map((p) => [String(p.pid), String(p.cpu), String(p.rss), p.command]));
    });

  machine
    .command('versions <id>')
    .description("list a machine's config versions, newest first")
    .requiredOption(...appOption)
    .option('--json', 'print JSON')
    .action(async (id: string, opts: AppOption & { json?: boolean }) => {
      const client = await clientFromEnv();
      const versions = await client.get<{ version: string; user_config: { image: string }; created_at: string; replaced_at?: string }[]>(path(opts.app, id, 'versions'));
      if (opts.json) return printJson(versions);
      printTable(['VERSION', 'IMAGE', 'CREATED', 'REPLACED'], versions.map((v) => [v.version, v.user_config.image, v.created_at, v.replaced_at ?? '']));
    });
}
