/**
 * From an app config to Machine configs, as flyctl makes them: one per process group,
 * http_service's two ports, checks, mounts, VM sizes, stop and restart settings.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isAloftError } from '../lib/errors.ts';
import { machineConfigsFor, parseAppConfig, splitShellWords } from './index.ts';

const configsOf = (source: string, image = 'registry.local/app:1') => machineConfigsFor(parseAppConfig(source, 'fly.toml').config, { image });

describe('machineConfigsFor', () => {
  test('http_service: port 80 (http, force_https) and 443 (tls+http), concurrency, checks, autostop', () => {
    const [group] = configsOf(`
[http_service]
internal_port = 3000
force_https = true
auto_stop_machines = "suspend"
auto_start_machines = true
min_machines_running = 1
[http_service.concurrency]
type = "requests"
soft_limit = 20
hard_limit = 25
[[http_service.checks]]
interval = "10s"
timeout = 2000
path = "/up"
method = "get"
`);
    assert.deepEqual(group!.config.services, [
      {
        protocol: 'tcp',
        internal_port: 3000,
        ports: [
          { port: 80, handlers: ['http'], force_https: true },
          { port: 443, handlers: ['tls', 'http'] },
        ],
        concurrency: { type: 'requests', soft_limit: 20, hard_limit: 25 },
        checks: [{ type: 'http', interval: '10s', timeout: '2s', method: 'GET', path: '/up' }],
        autostop: 'suspend',
        autostart: true,
        min_machines_running: 1,
      },
    ]);
  });

  test('process groups: one config each, init.cmd split as a shell would, services and mounts by group', () => {
    const groups = configsOf(`
[processes]
web = "bundle exec puma -C 'config/puma web.rb'"
worker = "bin/jobs --queue \\"default queue\\""
[[services]]
internal_port = 8080
processes = ["web"]
[[mounts]]
source = "jobs"
destination = "/jobs"
processes = ["worker"]
[[vm]]
size = "performance-2x"
processes = ["worker"]
[checks.alive]
port = 8080
processes = ["web"]
[checks.ready]
port = 8080
path = "/ready"
processes = ["worker"]
`);
    assert.deepEqual(groups.map((g) => g.processGroup), ['web', 'worker']);
    const [web, worker] = groups.map((g) => g.config);
    assert.deepEqual(web!.init, { cmd: ['bundle', 'exec', 'puma', '-C', 'config/puma web.rb'] });
    assert.deepEqual(worker!.init, { cmd: ['bin/jobs', '--queue', 'default queue'] });
    assert.deepEqual(web!.services?.map((s) => s.internal_port), [8080]);
    assert.equal(worker!.services, undefined);
    assert.deepEqual(web!.checks, { alive: { type: 'tcp', port: 8080 } });
    assert.deepEqual(worker!.checks, { ready: { type: 'http', port: 8080, path: '/ready' } }, 'no type and a path: an HTTP check');
    assert.equal(web!.mounts, undefined);
    assert.deepEqual(worker!.mounts, [{ path: '/jobs', name: 'jobs' }]);
    assert.deepEqual(web!.guest, { cpu_kind: 'shared', cpus: 1, memory_mb: 256 });
    assert.deepEqual(worker!.guest, { cpu_kind: 'performance', cpus: 2, memory_mb: 4096 });
    assert.deepEqual(web!.metadata, { fly_process_group: 'web' });
  });

  test('vm: a size, then memory/cpus over it; cpu_kind+cpus name a size; a GPU kind means one GPU', () => {
    const guest = (vm: string) => configsOf(`[[vm]]\n${vm}`)[0]!.config.guest;
    assert.deepEqual(guest('size = "shared-cpu-2x"\nmemory = "2gb"'), { cpu_kind: 'shared', cpus: 2, memory_mb: 2048 });
    assert.deepEqual(guest('cpu_kind = "performance"\ncpus = 4'), { cpu_kind: 'performance', cpus: 4, memory_mb: 8192 });
    assert.deepEqual(guest('memory = "1gb"'), { cpu_kind: 'shared', cpus: 1, memory_mb: 1024 });
    assert.deepEqual(guest('cpu_kind = "performance"'), { cpu_kind: 'performance', cpus: 1, memory_mb: 2048 });
    assert.deepEqual(guest('cpus = 3\nmemory_mb = 768'), { cpu_kind: 'shared', cpus: 3, memory_mb: 768 });
    assert.deepEqual(configsOf('[[compute]]\nsize = "shared-cpu-4x"')[0]!.config.guest, { cpu_kind: 'shared', cpus: 4, memory_mb: 1024 });
    assert.deepEqual(guest('size = "a100-40gb"'), { cpu_kind: 'performance', cpus: 8, memory_mb: 32768, gpu_kind: 'a100-pcie-40gb', gpus: 1 });
    assert.throws(() => guest('size = "huge"'), (err: unknown) => isAloftError(err, 'CONFIG_INVALID') && /'vm.size' must be one of shared-cpu-1x.*: got "huge"/.test(err.message));
  });

  test('stop_config, restart, swap, experimental cmd/entrypoint, env, metrics, statics', () => {
    const [only] = configsOf(`
kill_signal = "SIGQUIT"
kill_timeout = 120
swap_size_mb = 512
[experimental]
cmd = ["./start.sh", "--fast"]
entrypoint = "/init"
[env]
A = "1"
[[restart]]
policy = "never"
[metrics]
port = 9091
[[statics]]
guest_path = "/app/public"
url_prefix = "/"
`);
    const c = only!.config;
    assert.deepEqual(c.stop_config, { signal: 'SIGQUIT', timeout: '120s' });
    assert.deepEqual(c.restart, { policy: 'no' });
    assert.deepEqual(c.init, { cmd: ['./start.sh', '--fast'], entrypoint: ['/init'], swap_size_mb: 512 });
    assert.deepEqual(c.env, { A: '1' });
    assert.deepEqual(c['metrics'], { port: 9091, path: '/metrics' });
    assert.deepEqual(c['statics'], [{ guest_path: '/app/public', url_prefix: '/' }]);
  });

  test('the image comes from the option, else [build] image, else an error', () => {
    assert.equal(machineConfigsFor(parseAppConfig('[build]\nimage = "nginx:1"', 'fly.toml').config)[0]!.config.image, 'nginx:1');
    assert.throws(() => machineConfigsFor(parseAppConfig('app = "x"', 'fly.toml').config), /'build.image' must be set, or an image given: got nothing/);
  });

  test('two mounts for one group are refused; an unbalanced quote in a command too', () => {
    assert.throws(() => configsOf('[[mounts]]\nsource = "a"\ndestination = "/a"\n[[mounts]]\nsource = "b"\ndestination = "/b"'), /at most one mount to process group 'app'/);
    assert.throws(() => configsOf('[processes]\nweb = "echo \'hi"'), /'processes.web' must be a command with balanced quotes/);
  });
});

test('splitShellWords: quotes, escapes, runs of spaces', () => {
  assert.deepEqual(splitShellWords(`  a  'b c' "d \\"e\\"" f\\ g ""  `), ['a', 'b c', 'd "e"', 'f g', '']);
  assert.equal(splitShellWords('"open'), undefined);
});
