/**
 * Reading fly.toml as users write it: every spelling real files use, unknown keys as
 * warnings with lines and suggestions, bad values and bad TOML as one clear error.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isAloftError } from '../lib/errors.ts';
import { parseAppConfig } from './index.ts';

const parse = (source: string) => parseAppConfig(source, 'fly.toml');

/** The CONFIG_INVALID message parsing `source` fails with. */
function failure(source: string): string {
  try {
    parse(source);
  } catch (err) {
    assert.ok(isAloftError(err, 'CONFIG_INVALID'), String(err));
    return err.message;
  }
  assert.fail('expected CONFIG_INVALID');
}

describe('values in every spelling', () => {
  test('durations: ms numbers, strings with units, underscores', () => {
    const { config } = parse(`
[[services]]
internal_port = 8_080
  [[services.tcp_checks]]
  interval = 10_000
  timeout = "1m30s"
  grace_period = "500ms"
[deploy]
wait_timeout = "5m"
`);
    assert.deepEqual(config.services?.[0]?.tcp_checks?.[0], { interval: 10_000, timeout: 90_000, grace_period: 500 });
    assert.equal(config.services?.[0]?.internal_port, 8080);
    assert.equal(config.deploy?.wait_timeout, 300_000);
  });

  test('kill_timeout: a number is seconds, a string a duration', () => {
    assert.equal(parse('kill_timeout = 5').config.kill_timeout, 5000);
    assert.equal(parse('kill_timeout = "30s"').config.kill_timeout, 30_000);
    assert.match(failure('kill_timeout = 301'), /'kill_timeout' \(line 1\) must be a duration of at most 300s.*: got 301$/);
  });

  test('ports as strings; internal_port defaults to 8080 in http_service', () => {
    const { config } = parse(`
[http_service]
force_https = true
[[services]]
internal_port = "4000"
  [[services.ports]]
  port = "443"
  handlers = ["tls"]
`);
    assert.equal(config.http_service?.internal_port, 8080);
    assert.equal(config.services?.[0]?.internal_port, 4000);
    assert.deepEqual(config.services?.[0]?.ports, [{ port: 443, handlers: ['tls'] }]);
  });

  test('auto_stop_machines as a bool or a word', () => {
    const stop = (v: string) => parse(`[http_service]\nauto_stop_machines = ${v}`).config.http_service?.auto_stop_machines;
    assert.equal(stop('true'), 'stop');
    assert.equal(stop('false'), 'off');
    assert.equal(stop('"suspend"'), 'suspend');
    assert.equal(stop("'off'"), 'off');
    assert.match(failure('[http_service]\nauto_stop_machines = "sometimes"'), /'http_service.auto_stop_machines' \(line 2\) must be true, false, "off", "stop" or "suspend": got "sometimes"/);
  });

  test('memory as "256mb", "1gb", "2048", 512; volume sizes as "20gb", "50G", 3', () => {
    const { config } = parse(`
[[vm]]
memory = "256mb"
[[vm]]
memory = "1gb"
[[vm]]
memory = "2048"
[[vm]]
memory_mb = 512
[[mounts]]
source = "a"
destination = "/a"
initial_size = "50G"
[[mounts]]
source = "b"
destination = "/b"
initial_size = 3
`);
    assert.deepEqual(config.vm?.map((v) => v.memory ?? v.memory_mb), [256, 1024, 2048, 512]);
    assert.deepEqual(config.mounts?.map((m) => m.initial_size), [50, 3]);
    assert.match(failure('[[vm]]\nmemory = "lots"'), /'vm\[0\].memory' \(line 2\) must be a memory size.*: got "lots"/);
  });

  test('v1 tables written once where lists belong: [services.http_checks], [services.ports]', () => {
    const source = '[[services]]\ninternal_port = 8501\n  [services.ports]\n  port = 443\n  [services.http_checks]\n  method = "get"\n  path = "/health"\n  interval = "10s"\n';
    const { config, warnings } = parse(source);
    assert.deepEqual(warnings, []);
    assert.deepEqual(config.services?.[0]?.ports, [{ port: 443 }]);
    assert.deepEqual(config.services?.[0]?.http_checks, [{ method: 'GET', path: '/health', interval: 10_000 }]);
    assert.equal(failure(source.replace('"10s"', '"often"')), `Cannot read fly.toml as 'services[0].http_checks[0].interval' (line 8) must be a duration: milliseconds as a number, or a string with units such as "10s" or "1m30s": got "often"`);
  });

  test('[mount], [mounts] and [[mounts]] all give a list of mounts', () => {
    assert.deepEqual(parse('[mount]\nsource = "d"\ndestination = "/d"').config.mounts, [{ source: 'd', destination: '/d' }]);
    assert.deepEqual(parse('[mounts]\nsource = "d"\ndestination = "/d"').config.mounts, [{ source: 'd', destination: '/d' }]);
    assert.deepEqual(parse('[[mounts]]\nsource = "d"\ndestination = "/d"').config.mounts, [{ source: 'd', destination: '/d' }]);
  });

  test('[build] with build-target (a hyphen), args; [env] numbers become strings', () => {
    const { config, warnings } = parse(`
[build]
dockerfile = "Dockerfile.prod"
build-target = "runtime"
[build.args]
NODE_VERSION = "20"
[env]
PORT = 8080
DEBUG = false
`);
    assert.deepEqual(warnings, []);
    assert.deepEqual(config.build, { dockerfile: 'Dockerfile.prod', 'build-target': 'runtime', args: { NODE_VERSION: '20' } });
    assert.deepEqual(config.env, { PORT: '8080', DEBUG: 'false' });
  });

  test('v1 `processes = []` means no process groups; a [processes] table gives them', () => {
    assert.equal(parse('processes = []').config.processes, undefined);
    assert.deepEqual(parse('[processes]\nweb = "bin/web"\nworker = "bin/worker --queue a"').config.processes, { web: 'bin/web', worker: 'bin/worker --queue a' });
  });

  test('kill_signal in any case; an HTTP check method upper-cased; [experimental] cmd as a string or list', () => {
    const { config } = parse(`
kill_signal = "sigterm"
[experimental]
cmd = "./start.sh --port '8 0'"
entrypoint = ["/bin/sh", "-c"]
[checks.web]
type = "http"
port = 8080
method = "get"
path = "/health"
`);
    assert.equal(config.kill_signal, 'SIGTERM');
    assert.deepEqual(config.experimental, { cmd: ['./start.sh', '--port', '8 0'], entrypoint: ['/bin/sh', '-c'] });
    assert.equal(config.checks?.['web']?.method, 'GET');
  });
});

describe('unknown keys are warnings with the line and a suggestion', () => {
  test('a misspelt key at each level', () => {
    const { warnings } = parse(`app = "x"
primary_regoin = "ams"

[http_service]
  internal_port = 8080
  forse_https = true

[[services]]
  internal_port = 9000
  [[services.ports]]
    port = 9000
    handler = ["tls"]
`);
    assert.deepEqual(
      warnings.map((w) => [w.line, w.path]),
      [
        [2, 'primary_regoin'],
        [6, 'http_service.forse_https'],
        [12, 'services[0].ports[0].handler'],
      ],
    );
    assert.match(warnings[0]!.message, /^fly\.toml:2: unknown key 'primary_regoin' at the top level is ignored; did you mean 'primary_region'\?$/);
    assert.match(warnings[1]!.message, /did you mean 'force_https'\?$/);
    assert.match(warnings[2]!.message, /in 'services\[0\]\.ports\[0\]'.*did you mean 'handlers'\?$/);
  });

  test('the second [[services]] block is counted right; inline tables point at their key', () => {
    const { warnings } = parse(`[[services]]
internal_port = 1
[[services]]
internal_port = 2
  [services.concurrency]
  typ = "requests"
[deploy]
strategy = "canary"
[http_service]
concurrency = { type = "requests", sof_limit = 3 }
`);
    assert.deepEqual(
      warnings.map((w) => [w.line, w.path]),
      [
        [6, 'services[1].concurrency.typ'],
        [10, 'http_service.concurrency.sof_limit'],
      ],
    );
  });

  test('open tables take any key: env, build.args, processes, check names', () => {
    const { warnings } = parse('[env]\nANYTHING = "1"\n[processes]\nwhatever = "run"\n[checks.any_name]\ntype = "tcp"\nport = 1');
    assert.deepEqual(warnings, []);
  });

  test('a processes filter naming no defined group is warned about', () => {
    const { warnings } = parse('[processes]\nweb = "run"\n[[services]]\ninternal_port = 1\nprocesses = ["app"]\n[[vm]]\nprocesses = ["web"]');
    assert.deepEqual(warnings.map((w) => w.message), ["fly.toml:5: 'services[0].processes' names process group 'app', which is not one of 'web'; it applies to no Machine of that name"]);
  });

  test('v1 script checks and FLY_ env names are warned about', () => {
    const { warnings } = parse('[checks.role]\ntype = "script"\ncommand = "flycheck"\n[env]\nFLY_THING = "1"');
    assert.equal(warnings.length, 2);
    assert.match(warnings[0]!.message, /^fly\.toml:1: 'checks\.role' is a script check/);
    assert.match(warnings[1]!.message, /^fly\.toml:5: 'env\.FLY_THING' starts with FLY_/);
  });
});

describe('errors name the file, line, key path, value and rule', () => {
  test('a port out of range', () => {
    assert.equal(
      failure('app = "x"\n\n[http_service]\n  internal_port = 70000\n'),
      "Cannot read fly.toml as 'http_service.internal_port' (line 4) must be a port from 1 to 65535: got 70000",
    );
  });

  test('a value deep in the second service', () => {
    assert.equal(
      failure('[[services]]\ninternal_port = 1\n[[services]]\ninternal_port = 2\n  [[services.ports]]\n  port = 80\n  [[services.ports]]\n  port = "http"\n'),
      "Cannot read fly.toml as 'services[1].ports[1].port' (line 8) must be a port from 1 to 65535: got \"http\"",
    );
  });

  test('a missing required key points at its table', () => {
    assert.equal(failure('[[services]]\nprotocol = "tcp"\n'), "Cannot read fly.toml as 'services[0].internal_port' (line 1) must be a port from 1 to 65535: got nothing");
  });

  test('a mount written once, with a relative destination', () => {
    assert.equal(failure('[mounts]\nsource = "d"\ndestination = "data"\n'), "Cannot read fly.toml as 'mounts[0].destination' (line 3) must be an absolute path such as \"/data\": got \"data\"");
  });

  test('wrong strategy, wrong type', () => {
    assert.match(failure('[deploy]\nstrategy = "yolo"'), /'deploy.strategy' \(line 2\) must be one of "rolling", "immediate", "canary", "bluegreen": got "yolo"/);
    assert.match(failure('[http_service]\nforce_https = "yes"'), /'http_service.force_https' \(line 2\) must be true or false: got "yes"/);
    assert.match(failure('services = "web"'), /'services\[0\]' \(line 1\) must be a table: got "web"/);
    assert.match(failure('env = "PROD"'), /'env' \(line 1\) must be a table: got "PROD"/);
  });

  test('a public port needs port, or start_port and end_port in order', () => {
    assert.equal(failure('[[services]]\ninternal_port = 1\n  [[services.ports]]\n  handlers = ["tls"]\n'), "Cannot read fly.toml as 'services[0].ports[0].port' (line 3) must be a port from 1 to 65535 (or a range in start_port and end_port): got nothing");
    assert.match(failure('[[services]]\ninternal_port = 1\n  [[services.ports]]\n  start_port = 9000\n  end_port = 8000\n'), /'services\[0\]\.ports\[0\]\.end_port' \(line 5\) must be a port no lower than start_port: got 8000/);
    assert.deepEqual(parse('[[services]]\ninternal_port = 1\n  [[services.ports]]\n  start_port = 9000\n  end_port = 9010\n').config.services?.[0]?.ports, [{ start_port: 9000, end_port: 9010 }]);
  });

  test('TOML syntax errors give the line and column', () => {
    assert.match(failure('app = "x"\n[env]\nA = "1"\nA = "2"\n'), /^Cannot read fly\.toml as it must be valid TOML \(line 4, column 1\): /);
    assert.match(failure('app = "x\n'), /^Cannot read fly\.toml as it must be valid TOML \(line 1, column \d+\): /);
  });
});
