/**
 * The 60 real fly.toml files in ../shared/corpus/fly-toml (SOURCES.tsv says where each
 * came from): every one parses (040 is invalid TOML in its own repository: a key set
 * twice, which flyctl's parser refuses too), with exactly the warnings listed here, and
 * gives Machine configs that pass machineConfigSchema. For 33 of them the expected
 * Machine configs below were written by hand from reading each file, not printed by
 * this code.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { isAloftError } from '../lib/errors.ts';
import type { MachineConfig } from '../model/index.ts';
import { machineConfigsFor, parseAppConfig, type GroupMachineConfig, type ParsedAppConfig } from './index.ts';

/** Beside the repository: /work/shared/corpus/fly-toml when the repository is /work/main. */
const CORPUS = fileURLToPath(new URL('../../../shared/corpus/fly-toml/', import.meta.url));
const IMAGE = 'registry.local/corpus:1';
const FILES = readdirSync(CORPUS).filter((name) => name.endsWith('.toml')).sort();

function read(name: string): ParsedAppConfig {
  return parseAppConfig(readFileSync(CORPUS + name, 'utf8'), name);
}

/** The Machine configs of a corpus file; `null` takes the image from its [build]. */
function machinesOf(name: string, image: string | null = IMAGE): GroupMachineConfig[] {
  return machineConfigsFor(read(name).config, image === null ? {} : { image });
}

/** Files that are not valid TOML, and the error each must give. */
const INVALID: Record<string, RegExp> = {
  // ZFINGER_URL is set twice in [env] (lines 18 and 20).
  '040.toml': /^Cannot read 040\.toml as it must be valid TOML \(line 20, column 3\): /,
};

/** Every warning the corpus gives, as "line path". Everything else parses silently. */
const WARNINGS: Record<string, string[]> = {
  '002.toml': ['10 checks.role'], // a v1 script check
  '035.toml': ['39 services[0].max_machines_running'],
  '047.toml': ['28 services[0]', '28 services[0]'], // http_service and [[services]] both on 80 and 443
  '053.toml': ['9 http', '21 http_service.max_machines_running', '22 http_service.force_instance_key', '38 experimental.enable_6pn', '46 vm[0].mounts'],
  '070.toml': ['13 experimental.max_per_region'],
  '080.toml': ['10 env.FLY_SCALE_TO_ZERO'],
};

describe('the fly.toml corpus', () => {
  test('holds the 60 files', () => assert.equal(FILES.length, 60));

  for (const name of FILES) {
    test(`${name} parses with exactly its known warnings and gives valid Machine configs`, (t) => {
      const invalid = INVALID[name];
      if (invalid) {
        assert.throws(() => read(name), (err: unknown) => isAloftError(err, 'CONFIG_INVALID') && invalid.test(err.message));
        return;
      }
      const { warnings } = read(name);
      for (const w of warnings) t.diagnostic(w.message);
      assert.deepEqual(warnings.map((w) => `${w.line} ${w.path}`), WARNINGS[name] ?? [], warnings.map((w) => w.message).join('\n'));
      for (const w of warnings) assert.match(w.message, new RegExp(`^${name.replace('.', '\\.')}:${w.line}: `));
      const groups = machinesOf(name);
      assert.ok(groups.length >= 1);
    });
  }
});

const SHARED_1X = { cpu_kind: 'shared', cpus: 1, memory_mb: 256 } as const;
const app = (config: Omit<MachineConfig, 'image'>, group = 'app'): GroupMachineConfig => ({
  processGroup: group,
  config: { image: IMAGE, guest: SHARED_1X, metadata: { fly_process_group: group }, ...config },
});
const HTTP_80 = { port: 80, handlers: ['http'] } as const;
const HTTP_80_FORCED = { port: 80, handlers: ['http'], force_https: true } as const;
const TLS_443 = { port: 443, handlers: ['tls', 'http'] } as const;
const V1_TCP_CHECK = { type: 'tcp', interval: '15s', timeout: '2s', grace_period: '1s' } as const;

/** Machine configs written by hand from each file. */
const EXPECTED: Record<string, GroupMachineConfig[]> = {
  '001.toml': [
    app({
      env: { BACKEND_STORE: 'etcdv3', PRIMARY_REGION: 'ord' },
      checks: {
        pg: { type: 'http', port: 5500, interval: '15s', timeout: '10s', grace_period: '30s', method: 'GET', path: '/flycheck/pg' },
        role: { type: 'http', port: 5500, interval: '15s', timeout: '10s', grace_period: '30s', method: 'GET', path: '/flycheck/role' },
        vm: { type: 'http', port: 5500, interval: '60s', timeout: '10s', grace_period: '1s', method: 'GET', path: '/flycheck/vm' },
      },
      stop_config: { signal: 'SIGTERM', timeout: '300s' },
      mounts: [{ path: '/data', name: 'pg_data' }],
      metrics: { port: 9187, path: '/metrics' },
    }),
  ],
  '002.toml': [
    app({
      env: { TARGET_CLUSTER_SIZE: '3' },
      services: [
        {
          protocol: 'tcp',
          internal_port: 2379,
          concurrency: {},
          ports: [{ port: 10000, handlers: [] }],
          checks: [{ type: 'tcp', interval: '15s', timeout: '2s', grace_period: '1s' }],
        },
      ],
      stop_config: { signal: 'SIGINT', timeout: '5s' },
      mounts: [{ path: '/etcd_data', name: 'etcd_data' }],
    }),
  ],
  '007.toml': [
    app({
      services: [
        {
          protocol: 'tcp',
          internal_port: 54321,
          concurrency: { soft_limit: 2000, hard_limit: 2500 },
          ports: [{ port: 443, handlers: ['tls'] }],
          checks: [{ type: 'tcp', interval: '10s', timeout: '2s' }],
        },
      ],
    }),
  ],
  '008.toml': [
    app({
      env: { BUCKET_MOUNT: '/tigris', BUMBLEBEE_CACHE_DIR: '/app/.bumblebee', PHX_HOST: 'livebeats.fly.dev' },
      services: [
        {
          protocol: 'tcp',
          internal_port: 4000,
          ports: [HTTP_80, TLS_443],
          concurrency: { type: 'connections', soft_limit: 2000, hard_limit: 2500 },
          checks: [{ type: 'tcp', interval: '15s', timeout: '2s', grace_period: '20s' }],
        },
      ],
      stop_config: { signal: 'SIGTERM', timeout: '5s' },
    }),
  ],
  '011.toml': [
    app({
      env: { OLLAMA_API_BASE_URL: 'http://localhost:11434/api', WEBUI_SECRET_KEY: '' },
      guest: { cpu_kind: 'performance', cpus: 8, memory_mb: 16384, gpu_kind: 'l40s', gpus: 1 },
      services: [{ protocol: 'tcp', internal_port: 8080, ports: [HTTP_80_FORCED, TLS_443], autostop: 'stop', autostart: true, min_machines_running: 0 }],
      mounts: [{ path: '/root/.ollama', name: 'data' }],
    }),
  ],
  '013.toml': [
    app({
      services: [
        {
          protocol: 'tcp',
          internal_port: 4000,
          concurrency: { type: 'connections', soft_limit: 20, hard_limit: 25 },
          ports: [HTTP_80, TLS_443],
          checks: [{ type: 'tcp', interval: '15s', timeout: '2s', grace_period: '30s' }],
        },
      ],
      stop_config: { signal: 'SIGTERM', timeout: '5s' },
    }),
  ],
  '016.toml': [
    app({
      services: [{ protocol: 'tcp', internal_port: 6379, ports: [{ port: 10000, handlers: [] }], checks: [{ type: 'tcp', interval: '10s', timeout: '2s' }] }],
      mounts: [{ path: '/data', name: 'keydb_server' }],
    }),
  ],
  '017.toml': [
    app({
      services: [
        {
          protocol: 'tcp',
          internal_port: 4000,
          concurrency: { soft_limit: 20, hard_limit: 25 },
          ports: [HTTP_80, TLS_443],
          checks: [{ type: 'tcp', port: 8080, interval: '15s', timeout: '2s', grace_period: '30s' }],
        },
      ],
      stop_config: { signal: 'SIGTERM', timeout: '5s' },
    }),
  ],
  '019.toml': [
    app({
      services: [
        {
          protocol: 'tcp',
          internal_port: 8080,
          concurrency: { type: 'requests', soft_limit: 30, hard_limit: 100 },
          ports: [HTTP_80, TLS_443],
          checks: [{ type: 'http', interval: '3s', timeout: '1s', method: 'GET', path: '/healthz', protocol: 'http', headers: [{ name: 'Host', values: ['health.check'] }] }],
        },
      ],
      mounts: [{ path: '/data', name: 'nginx_data' }],
    }),
  ],
  '020.toml': [app({ guest: { cpu_kind: 'shared', cpus: 1, memory_mb: 1024 }, mounts: [{ path: '/data', name: 'data' }] })],
  '022.toml': [
    app({
      env: { ALLOW_ORG_SLUG: 'fly', DATA_DIR: '/data', LOG_LEVEL: 'info' },
      guest: { cpu_kind: 'shared', cpus: 4, memory_mb: 4096 },
      services: [
        {
          protocol: 'tcp',
          internal_port: 8080,
          ports: [
            { port: 80, handlers: ['http'], force_https: true, http_options: { h2_backend: true } },
            { port: 443, handlers: ['tls', 'http'], tls_options: { alpn: ['h2'] }, http_options: { h2_backend: true } },
          ],
          autostop: 'off',
          autostart: true,
          min_machines_running: 0,
        },
      ],
      stop_config: { signal: 'SIGINT', timeout: '5s' },
      mounts: [{ path: '/data', name: 'data' }],
      metrics: { port: 9323, path: '/metrics' },
    }),
  ],
  '025.toml': [
    app({
      services: [
        {
          protocol: 'tcp',
          internal_port: 8080,
          concurrency: { type: 'requests', soft_limit: 80, hard_limit: 100 },
          ports: [HTTP_80_FORCED, TLS_443],
          checks: [
            V1_TCP_CHECK,
            { type: 'http', interval: '10s', timeout: '2s', grace_period: '5s', method: 'GET', path: '/resources/healthcheck', protocol: 'http', tls_skip_verify: false },
            { type: 'http', interval: '30s', timeout: '5s', grace_period: '10s', method: 'GET', path: '/litefs/health' },
          ],
        },
      ],
      stop_config: { signal: 'SIGINT', timeout: '5s' },
      mounts: [{ path: '/data', name: 'data' }],
    }),
  ],
  '029.toml': [
    app({
      init: { swap_size_mb: 2048 },
      services: [
        { protocol: 'tcp', internal_port: 3000, ports: [HTTP_80_FORCED, TLS_443], autostop: 'off', autostart: true, min_machines_running: 1 },
        { protocol: 'tcp', internal_port: 2222, ports: [{ port: 2222 }] },
      ],
      mounts: [{ path: '/data', name: 'smooth_volume' }],
      statics: [{ guest_path: '/rails/public', url_prefix: '/' }],
    }),
  ],
  '032.toml': [
    app({
      env: { VERSION: 'LATEST', EULA: 'TRUE', SERVER_PORT: '12345' },
      guest: { cpu_kind: 'shared', cpus: 2, memory_mb: 4096 },
      services: [{ protocol: 'udp', internal_port: 19132, ports: [{ port: 19132 }] }],
      mounts: [{ path: '/data', name: 'data' }],
    }),
  ],
  '035.toml': [
    app({
      env: {
        EULA: 'TRUE',
        ENABLE_AUTOSTOP: 'TRUE',
        AUTOSTOP_TIMEOUT_EST: '120',
        AUTOSTOP_TIMEOUT_INIT: '120',
        MEMORY: '3G',
        AUTOSTOP_PKILL_USE_SUDO: 'TRUE',
        MOTD: "Let's craft, baby!",
        WHITELIST: 'ckreiling,deploytoprod',
        EXISTING_WHITELIST_FILE: 'SYNCHRONIZE',
        OPS: 'ckreiling,deploytoprod',
        EXISTING_OPS_FILE: 'SYNCHRONIZE',
      },
      services: [
        {
          protocol: 'tcp',
          internal_port: 25565,
          ports: [{ port: 25565 }],
          checks: [{ type: 'tcp', interval: '5s', timeout: '3s', grace_period: '10s' }],
          autostop: 'off',
          autostart: true,
          min_machines_running: 0,
        },
      ],
      stop_config: { signal: 'SIGTERM', timeout: '120s' },
      mounts: [{ path: '/data', name: 'minecraft_data' }],
    }),
  ],
  '041.toml': [
    {
      processGroup: 'app',
      config: { image: 'ghcr.io/reddit-diabetes/diabot:latest', guest: SHARED_1X, stop_config: { signal: 'SIGINT', timeout: '5s' }, metadata: { fly_process_group: 'app' } },
    },
  ],
  '046.toml': [
    app({
      env: { DOMAIN_URL: 'https://mutiny.plus', FM_DB_PATH: '/data', HERMES_PORT: '8080', RUST_LOG: 'info' },
      guest: { cpu_kind: 'performance', cpus: 1, memory_mb: 2048 },
      services: [
        {
          protocol: 'tcp',
          internal_port: 8080,
          ports: [HTTP_80_FORCED, TLS_443],
          concurrency: { type: 'requests', soft_limit: 200, hard_limit: 250 },
          checks: [{ type: 'http', interval: '5s', timeout: '5s', grace_period: '10s', method: 'GET', path: '/health-check' }],
          autostop: 'stop',
          autostart: true,
          min_machines_running: 2,
        },
      ],
      mounts: [{ path: '/data', name: 'hermes_data' }],
    }),
  ],
  '047.toml': [
    app({
      env: { PORT: '8000' },
      init: { cmd: ['gunicorn', '--bind', ':8000', '--workers', '2', 'automation.wsgi'] },
      services: [
        { protocol: 'tcp', internal_port: 8000, ports: [HTTP_80, TLS_443], autostop: 'stop', autostart: true, min_machines_running: 0 },
        {
          protocol: 'tcp',
          internal_port: 8000,
          concurrency: { type: 'connections', soft_limit: 20, hard_limit: 25 },
          ports: [HTTP_80_FORCED, TLS_443],
          checks: [V1_TCP_CHECK],
        },
      ],
      stop_config: { signal: 'SIGINT', timeout: '5s' },
      statics: [{ guest_path: '/code/staticfiles', url_prefix: '/static/' }],
    }),
    app(
      {
        env: { PORT: '8000' },
        init: { cmd: ['python', '-m', 'manage', 'qcluster'] },
        stop_config: { signal: 'SIGINT', timeout: '5s' },
        statics: [{ guest_path: '/code/staticfiles', url_prefix: '/static/' }],
      },
      'worker',
    ),
  ],
  '050.toml': [
    app({ env: { RUST_LOG: 'race_of_sloths_bot=TRACE,race-of-sloths-server=TRACE' }, init: { cmd: ['./race-of-sloths-bot'] }, metrics: { port: 8080, path: '/metrics' } }, 'bot'),
    app(
      {
        env: { RUST_LOG: 'race_of_sloths_bot=TRACE,race-of-sloths-server=TRACE' },
        init: { cmd: ['./race-of-sloths-server'] },
        services: [{ protocol: 'tcp', internal_port: 8080, ports: [HTTP_80_FORCED, TLS_443] }],
        metrics: { port: 8080, path: '/metrics' },
      },
      'server',
    ),
  ],
  '055.toml': [
    app({
      env: { PHX_HOST: 'model-harness.fly.dev', PORT: '8080', RELEASE_COOKIE: 'my-special-cookie' },
      guest: { cpu_kind: 'performance', cpus: 8, memory_mb: 32768, gpu_kind: 'a100-pcie-40gb', gpus: 1 },
      services: [
        {
          protocol: 'tcp',
          internal_port: 8080,
          ports: [HTTP_80_FORCED, TLS_443],
          concurrency: { type: 'connections', soft_limit: 1000, hard_limit: 1000 },
          autostop: 'off',
          autostart: true,
          min_machines_running: 0,
        },
      ],
      stop_config: { signal: 'SIGTERM' },
      mounts: [{ path: '/data', name: 'models' }],
    }),
  ],
  '058.toml': [
    app({
      env: { DATA_DIR: '/data' },
      guest: { cpu_kind: 'shared', cpus: 1, memory_mb: 512 },
      services: [
        {
          protocol: 'tcp',
          internal_port: 6000,
          ports: [{ port: 6000 }],
          checks: [{ type: 'tcp', interval: '30s', timeout: '5s', grace_period: '30s' }],
          autostop: 'off',
          autostart: false,
          min_machines_running: 1,
        },
      ],
      mounts: [{ path: '/data', name: 'lofswap_data' }],
    }),
  ],
  '059.toml': [
    app({
      env: { KV_API_TOKEN: 'mysecrettoken' },
      services: [
        { protocol: 'tcp', internal_port: 8080, ports: [HTTP_80_FORCED, TLS_443], autostop: 'off', autostart: true, min_machines_running: 1 },
        { protocol: 'tcp', internal_port: 9000, ports: [{ port: 9000 }] },
      ],
      checks: { health: { type: 'http', port: 8080, path: '/healthz', interval: '10s', timeout: '2s', grace_period: '5s' } },
      mounts: [{ path: '/data', name: 'raft_data' }],
    }),
  ],
  '064.toml': [
    app({
      env: { NODE_ENV: 'production', _PREFER_PNPM: '1', _STATE_DIR: '/data', NODE_OPTIONS: '--max-old-space-size=1536' },
      init: { cmd: ['node', 'dist/index.js', 'gateway', '--allow-unconfigured', '--port', '3000', '--bind', 'lan'] },
      guest: { cpu_kind: 'shared', cpus: 2, memory_mb: 2048 },
      services: [{ protocol: 'tcp', internal_port: 3000, ports: [HTTP_80_FORCED, TLS_443], autostop: 'off', autostart: true, min_machines_running: 1 }],
      mounts: [{ path: '/data', name: '_data' }],
    }),
  ],
  '067.toml': [
    app({
      env: { COG_LOG_LEVEL: 'debug' },
      init: { cmd: ['./start.sh'] },
      guest: { cpu_kind: 'performance', cpus: 8, memory_mb: 16384, gpu_kind: 'l40s', gpus: 1 },
      services: [{ protocol: 'tcp', internal_port: 5000, ports: [HTTP_80_FORCED, TLS_443], autostop: 'stop', autostart: true, min_machines_running: 0 }],
      mounts: [{ path: '/src/sd3-cache', name: 'sd3_cache' }],
      files: [{ guest_path: '/src/start.sh', local_path: './start.sh' }],
    }),
  ],
  '071.toml': [
    app({
      env: { TIER: 'production', VITE_ROOT_URL: 'https://www.mrtdown.org' },
      init: { swap_size_mb: 512 },
      guest: { cpu_kind: 'shared', cpus: 2, memory_mb: 512 },
      services: [
        {
          protocol: 'tcp',
          internal_port: 3000,
          ports: [HTTP_80_FORCED, TLS_443],
          checks: [{ type: 'http', interval: '15s', timeout: '5s', grace_period: '10s', method: 'GET', path: '/healthz', protocol: 'http' }],
          autostop: 'stop',
          autostart: true,
          min_machines_running: 0,
        },
      ],
    }),
  ],
  '074.toml': [
    app({
      env: { ALLOWED_HOSTS: 't2-svc.fly.dev,2.tunnelto.dev', NET_PORT: '10002', BLOCKED_SUB_DOMAINS: 'wormhole,dashboard,2' },
      services: [
        {
          protocol: 'tcp',
          internal_port: 5000,
          concurrency: { soft_limit: 20, hard_limit: 25 },
          ports: [{ port: 10001, handlers: ['tls', 'http'] }],
          checks: [{ type: 'http', interval: '10s', timeout: '20s', method: 'GET', path: '/health_check', protocol: 'http' }],
        },
        {
          protocol: 'tcp',
          internal_port: 8080,
          concurrency: { soft_limit: 20, hard_limit: 25 },
          ports: [{ port: 443, handlers: ['tls', 'http'] }],
          checks: [{ type: 'http', interval: '10s', timeout: '20s', method: 'GET', path: '/0xDEADBEEF_HEALTH_CHECK', protocol: 'http' }],
        },
      ],
      stop_config: { signal: 'SIGINT', timeout: '5s' },
    }),
  ],
  '076.toml': [
    app({
      services: [
        { protocol: 'tcp', internal_port: 25, ports: [{ port: 25 }] },
        { protocol: 'tcp', internal_port: 80, ports: [{ port: 80, handlers: [] }] },
        { protocol: 'tcp', internal_port: 443, ports: [{ port: 443, handlers: ['tls'] }] },
        { protocol: 'tcp', internal_port: 41194, ports: [{ port: 41194 }] },
        { protocol: 'udp', internal_port: 41194, ports: [{ port: 41194 }] },
        { protocol: 'tcp', internal_port: 25565, ports: [{ port: 25565 }] },
        { protocol: 'udp', internal_port: 19132, ports: [{ port: 19132 }] },
        { protocol: 'tcp', internal_port: 42333, ports: [{ port: 42333 }] },
      ],
    }),
  ],
  '077.toml': [
    app({
      env: { GOMEMLIMIT: '200MiB' },
      services: [
        { protocol: 'udp', internal_port: 443, ports: [{ port: 443 }] },
        { protocol: 'tcp', internal_port: 443, ports: [{ port: 443 }] },
        { protocol: 'tcp', internal_port: 80, ports: [{ port: 80 }] },
      ],
      stop_config: { timeout: '180s' },
      mounts: [{ path: '/data/kv', name: 'kv' }],
    }),
  ],
  '079.toml': [app({ init: { cmd: ['server'] }, mounts: [{ path: '/app', name: 'mollysocket_data' }] }, 'worker')],
  '080.toml': [
    app({
      env: { FLY_SCALE_TO_ZERO: '1h', PRIMARY_REGION: 'lax' },
      services: [5432, 5433].map((port) => ({
        protocol: 'tcp' as const,
        internal_port: port,
        ports: [{ port, handlers: ['pg_tls' as const] }],
        concurrency: { type: 'connections' as const, soft_limit: 1000, hard_limit: 1000 },
        autostart: true,
      })),
      checks: Object.fromEntries(['pg', 'role', 'vm'].map((n) => [n, { type: 'http' as const, port: 5500, interval: '15s', timeout: '10s', path: `/flycheck/${n}` }])),
      mounts: [{ path: '/data', name: 'pg_data' }],
      metrics: { port: 9187, path: '/metrics', https: false },
    }),
  ],
  '083.toml': [
    app({
      services: [
        {
          protocol: 'tcp',
          internal_port: 8080,
          concurrency: { soft_limit: 20, hard_limit: 25 },
          ports: [HTTP_80, TLS_443],
          checks: [{ type: 'tcp', interval: '10s', timeout: '2s' }],
        },
      ],
    }),
  ],
  '085.toml': [app({})],
  '088.toml': [
    app({
      env: { PORT: '8080' },
      services: [
        {
          protocol: 'tcp',
          internal_port: 8080,
          concurrency: { type: 'connections', soft_limit: 20, hard_limit: 25 },
          ports: [HTTP_80_FORCED, TLS_443],
          checks: [V1_TCP_CHECK, { type: 'http', interval: '10s', timeout: '2s', grace_period: '5s', method: 'GET', path: '/healthcheck', protocol: 'http', tls_skip_verify: false }],
        },
      ],
      stop_config: { signal: 'SIGINT', timeout: '5s' },
      mounts: [{ path: '/data', name: 'element_data' }],
    }),
  ],
  '089.toml': [app({ mounts: [{ path: '/nix_store', name: 'nix_store' }] })],
};

describe('Machine configs from the corpus, written by hand', () => {
  test('at least 20 files have hand-written expectations', () => assert.ok(Object.keys(EXPECTED).length >= 20));

  for (const [name, expected] of Object.entries(EXPECTED)) {
    test(name, () => {
      // 041 names its image in [build]; the rest get the image a deploy would build.
      assert.deepEqual(machinesOf(name, name === '041.toml' ? null : IMAGE), expected);
    });
  }

  test('056.toml: 81 raw TCP services, one port each, 10022 to 10099 among them', () => {
    const [only, ...rest] = machinesOf('056.toml');
    assert.equal(rest.length, 0);
    const services = only!.config.services ?? [];
    assert.equal(services.length, 81);
    assert.deepEqual(services[0], { protocol: 'tcp', internal_port: 8080, ports: [TLS_443], concurrency: { type: 'connections', soft_limit: 25, hard_limit: 50 } });
    assert.deepEqual(services.slice(3).map((s) => s.internal_port), Array.from({ length: 78 }, (_, i) => 10022 + i));
    assert.ok(services.slice(3).every((s) => s.ports?.length === 1 && s.ports[0]!.port === s.internal_port && s.ports[0]!.handlers === undefined));
    assert.deepEqual(only!.config.mounts, [{ path: '/data', name: 'bastion_data' }]);
  });
});
