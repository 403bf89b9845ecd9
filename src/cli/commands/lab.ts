import type { Command } from 'commander';
import { invalidField } from '../../lib/errors.ts';
import { labDown, labExec, labFail, labHeal, labStatus, labUp, readLabState, waitConverged, LAB_NETWORK_TOOLS, LAB_TOOLS, type FaultRequest } from '../../lab/index.ts';
import { installMissingTools } from '../../platform/host-tools.ts';
import { printJson, printTable, say } from '../output.ts';

const DEFAULT_NAME = 'lab';

/**
 * `aloft lab`: a multi-region world of network namespaces on this machine (as root),
 * for developers, tests and demos. Runs locally, not through the API: it builds the
 * network the platform will run on.
 */
export function labCommand(program: Command): void {
  const lab = program.command('lab').description('a multi-region world of network namespaces on this machine (root): routers, anycast edges, delayed links');
  const nameOption = ['--name <name>', 'which lab (namespaces are al-<name>-…)', DEFAULT_NAME] as const;

  lab
    .command('up')
    .description('build a lab: per region a router, an anycast edge (bird2), hosts and a client; regions joined with realistic RTTs')
    .requiredOption('--regions <codes>', 'comma-separated region codes, e.g. ams,iad,sin')
    .option('--hosts-per-region <n>', 'host namespaces per region', (v) => Number(v), 1)
    .option('--no-platform', 'build the network alone: no etcd, API, agents or edge proxies (stand-in responders answer at the edges)')
    .option(...nameOption)
    .option('--json', 'print JSON')
    .action(async (opts: { regions: string; hostsPerRegion: number; platform: boolean; name: string; json?: boolean }) => {
      // Like `aloft up`: a clean Debian machine gets bird2, socat, etcd… from apt, saying why.
      installMissingTools([...(opts.platform ? LAB_TOOLS : LAB_NETWORK_TOOLS)], (line) => process.stderr.write(`${line}\n`));
      const started = Date.now();
      const state = await labUp({ name: opts.name, regions: opts.regions, hostsPerRegion: opts.hostsPerRegion, platform: opts.platform });
      if (opts.json) return printJson(await labStatus(opts.name));
      const regions = state.plan.regions.map((r) => r.code).join(', ');
      say(`lab '${opts.name}' is up in ${Date.now() - started} ms: ${regions}; anycast ${state.plan.anycast.ipv4} and ${state.plan.anycast.ipv6}`);
      const named = opts.name === DEFAULT_NAME ? '' : ` --name ${opts.name}`;
      const first = state.plan.regions[0]!.code;
      if (state.platform) {
        say(`platform: etcd in ${state.platform.etcd.map((m) => m.place).join(', ')}; API ${state.platform.api.url} and registry ${state.platform.registry.url} in ${state.platform.api.place}; an agent on every host, a proxy on every edge; apps at <app>.${state.platform.domain}`);
        say(`Try: aloft lab exec${named} ${first} -- aloft apps create demo    then    aloft lab exec${named} ${first} -- curl -s -H 'Host: demo.${state.platform.domain}' http://${state.plan.anycast.ipv4}/`);
      } else {
        say(`Try: aloft lab exec${named} ${first} -- curl -s http://${state.plan.anycast.ipv4}/`);
      }
      say(`Remove: aloft lab down${named}`);
    });

  lab
    .command('status')
    .description("show a lab's regions, where each sends anycast traffic, links, processes and faults")
    .option(...nameOption)
    .option('--json', 'print JSON')
    .action(async (opts: { name: string; json?: boolean }) => {
      const status = await labStatus(opts.name);
      if (opts.json) return printJson(status);
      printTable(
        ['REGION', 'ANYCAST VIA', 'SESSIONS DOWN', 'HOSTS'],
        status.regions.map((r) => [r.region, r.anycastVia, r.sessionsDown.length === 0 ? '-' : r.sessionsDown.join(', '), String(r.hosts.length)]),
      );
      if (status.links.length > 0) say(`links: ${status.links.map((l) => `${l.name} ${l.rtt_ms} ms`).join(', ')}`);
      const dead = status.processes.filter((p) => !p.running);
      say(`processes: ${status.processes.length - dead.length}/${status.processes.length} running${dead.length > 0 ? ` (not: ${dead.map((p) => `${p.role}@${p.place}`).join(', ')})` : ''}`);
      say(`faults: ${status.faults.length === 0 ? 'none' : status.faults.map((f) => JSON.stringify(f)).join(', ')}`);
    });

  lab
    .command('exec')
    .description('run a command from a place: a region (its client), <region>-edge, <region>-router, <region>-h<N>, inet')
    .argument('<place>')
    .argument('<command...>')
    .option(...nameOption)
    .action(async (place: string, argv: string[], opts: { name: string }) => {
      process.exitCode = await labExec(opts.name, place, argv);
    });

  lab
    .command('fail')
    .description('inject a fault: edge <region> [--silent], link <a>-<b>, region <region>, proxy <region>, etcd <region>, host <region>-h<N>')
    .argument('<kind>', 'edge, link, region, proxy (kill the edge proxy), etcd (kill the member) or host (the host dies)')
    .argument('<target>', 'a region, a link such as ams-iad, or a host such as ams-h1')
    .option('--silent', 'edge: freeze it (only BFD notices) instead of draining it (birdc disable)')
    .option(...nameOption)
    .action(async (kind: string, target: string, opts: { name: string; silent?: boolean }) => {
      const kinds = ['edge', 'link', 'region', 'proxy', 'etcd', 'host'] as const;
      if (!(kinds as readonly string[]).includes(kind)) throw invalidField('fail', 'kind', `one of ${kinds.join(', ')}`, kind);
      const fault = await labFail(opts.name, { kind: kind as FaultRequest['kind'], target, silent: opts.silent === true } satisfies FaultRequest);
      say(`failed: ${JSON.stringify(fault)}    Undo: aloft lab heal`);
    });

  lab
    .command('heal')
    .description('undo every fault injected with `aloft lab fail`, and wait until routing has converged')
    .option(...nameOption)
    .action(async (opts: { name: string }) => {
      const healed = await labHeal(opts.name);
      const state = await readLabState(opts.name);
      // Sessions re-establish within seconds (error wait time 1 s); say so only once routing agrees.
      const started = Date.now();
      await waitConverged(state.plan, state.dir, 30_000);
      say(healed.length === 0 ? 'nothing to heal' : `healed ${healed.length} fault(s); routing converged in ${Date.now() - started} ms`);
    });

  lab
    .command('down')
    .description('remove every namespace, interface and process of a lab (also after a crash)')
    .option(...nameOption)
    .action(async (opts: { name: string }) => {
      const result = await labDown(opts.name);
      say(`lab '${opts.name}' removed: ${result.namespaces.length} namespaces, ${result.processes} processes`);
    });
}
