import type { HostControl } from '../../agent/host-control.ts';
import { createApiApp } from '../../api/server.ts';
import { fakeImages } from '../../api/testing/fake-images.ts';
import { machineEvent, type Machine } from '../../model/index.ts';
import { singleHostScheduler } from '../../scheduler/testing.ts';
import { openSqliteStore, type Store } from '../../store/index.ts';
import type { HealthGate } from '../health-gate.ts';
import { fakeAgent, type OnStart } from './fake-agent.ts';

export const TOKEN = 'deploy-test-token';

export interface Answer {
  status: number;
  body: Record<string, unknown> & { error?: string; code?: string };
}

/** One event as the events stream gives it. */
export interface StreamedEvent {
  seq: number;
  type: string;
  message: string;
  release: number;
  machine?: string;
  group?: string;
  status?: string;
  [key: string]: unknown;
}

export interface DeployHarness {
  store: Store;
  call(method: string, path: string, body?: unknown): Promise<Answer>;
  /** POSTs a deploy of `toml` (and `image`, default "ok-image") and answers the release (or the error). */
  startDeploy(app: string, toml: string, options?: { image?: string; strategy?: string }): Promise<Answer>;
  /** Deploys and follows its events to the end (GET …/events?follow=true); answers the release and its events. */
  deploy(app: string, toml: string, options?: { image?: string; strategy?: string }): Promise<{ release: Answer['body']; events: StreamedEvent[]; final: Answer['body'] }>;
  /** Follows release `version`'s events to its `done`. */
  follow(app: string, version: number): Promise<StreamedEvent[]>;
  machines(app: string): Promise<Machine[]>;
  createApp(name: string): Promise<void>;
  close(): Promise<void>;
}

/**
 * An in-process API with a real SQLite store and deployer, a fake agent moving each
 * intent to its resting state, the given HealthGate, and log lines served for every
 * Machine ("line 1 of <id>"…). Everything goes through HTTP, as the CLI's would.
 */
export async function openDeployHarness(options: { gate: (store: Store) => HealthGate; onStart?: OnStart }): Promise<DeployHarness> {
  const store = await openSqliteStore({ path: ':memory:' });
  const hostControl: HostControl = {
    signal: () => Promise.reject(new Error('not in tests')),
    exec: () => Promise.reject(new Error('not in tests')),
    ps: () => Promise.reject(new Error('not in tests')),
    async *logs(target, read) {
      const all = [1, 2, 3].map((n) => ({ timestamp: new Date().toISOString(), machine_id: target.machineId, message: `line ${n} of ${target.machineId}` }));
      yield* all.slice(-(read.tail ?? all.length));
    },
  };
  const app = createApiApp({ store, images: fakeImages, scheduler: singleHostScheduler(), token: TOKEN, rateLimits: false, hostControl, healthGate: options.gate(store) });
  const agent = fakeAgent(store, options.onStart);
  const call = async (method: string, path: string, body?: unknown): Promise<Answer> => {
    const response = await app.request(`/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return { status: response.status, body: (text ? JSON.parse(text) : {}) as Answer['body'] };
  };
  const follow = async (app_: string, version: number): Promise<StreamedEvent[]> => {
    const response = await app.request(`/v1/apps/${app_}/releases/${version}/events?follow=true`, { headers: { authorization: `Bearer ${TOKEN}` } });
    const text = await response.text();
    return text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as StreamedEvent);
  };
  const startDeploy = (name: string, toml: string, o: { image?: string; strategy?: string } = {}): Promise<Answer> =>
    call('POST', `/apps/${name}/deploys`, { image: o.image ?? 'ok-image', config: [{ name: 'fly.toml', text: toml }], ...(o.strategy ? { strategy: o.strategy } : {}) });
  return {
    store,
    call,
    startDeploy,
    follow,
    async deploy(name, toml, o = {}) {
      const started = await startDeploy(name, toml, o);
      if (started.status !== 201) throw new Error(`deploy answered ${started.status}: ${JSON.stringify(started.body)}`);
      const version = Number(started.body['version']);
      const events = await follow(name, version);
      const final = (await call('GET', `/apps/${name}/releases/${version}`)).body;
      return { release: started.body, events, final };
    },
    machines: (name) => store.listMachines({ appName: name }),
    async createApp(name) {
      const answer = await call('POST', '/apps', { app_name: name, org_slug: 'personal' });
      if (answer.status !== 201) throw new Error(`create app answered ${answer.status}`);
    },
    async close() {
      agent.stop();
      // Let the fake agent's last writes land before the store closes.
      await new Promise((r) => setImmediate(r));
      await store.close();
    },
  };
}

/** Marks a Machine as exited (for tests that stop one by hand). */
export async function exitMachine(store: Store, id: string, exitCode: number): Promise<void> {
  await store.updateMachine(id, { patch: { state: 'stopped' }, expectState: ['started'], events: [machineEvent('exit', 'stopped', 'flyd', { exit_event: { exit_code: exitCode, requested_stop: false } })] });
}
