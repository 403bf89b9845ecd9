import type { MachineService, Machine, MachineState } from '../../model/index.ts';
import { machineEvent } from '../../model/index.ts';
import { openSqliteStore } from '../../store/index.ts';
import type { Store } from '../../store/store.ts';
import { sampleApp, sampleMachine } from '../../store/testing.ts';
import { createProxy, type Proxy, type ProxyOptions } from '../server.ts';

/** What the stand-in agent does with each intent (default: what a healthy agent does). */
export type AgentPlan = Partial<Record<'starting' | 'stopping' | 'suspending', MachineState | 'ignore'>>;

/**
 * A real SQLite store (in memory), a proxy following it with autoscale on, and a tiny
 * stand-in for the host agent: it follows the store's watch and answers each intent
 * with its resting state (`starting` → `started`…), as agent/agent.ts does after
 * driving a runtime. The Machines' HTTP services point at real local backends.
 */
export interface AutoscaleWorld {
  store: Store;
  proxy: Proxy;
  port: number;
  app: string;
  /** Creates a Machine of the app listening at 127.0.0.1:`backendPort`. */
  machine(backendPort: number, state: MachineState, options?: { region?: string; service?: Partial<MachineService> }): Promise<Machine>;
  plan: AgentPlan;
  settled(): Promise<void>;
  /** Events with source `proxy` of one Machine, oldest first, as "type:status". */
  proxyEvents(id: string): Promise<string[]>;
  close(): Promise<void>;
}

export async function startAutoscaleWorld(options: Partial<ProxyOptions> & { autostopIntervalMs?: number; autostartWaitMs?: number } = {}): Promise<AutoscaleWorld> {
  const store = await openSqliteStore({ path: ':memory:' });
  const app = (await store.createApp(sampleApp({ name: 'auto' }))).name;
  const plan: AgentPlan = {};
  const unwatch = store.watch((change) => {
    if (change.kind !== 'machine' || change.op !== 'put') return;
    const m = change.machine;
    const rest = { starting: 'started', stopping: 'stopped', suspending: 'suspended' } as const;
    if (m.state !== 'starting' && m.state !== 'stopping' && m.state !== 'suspending') return;
    const target = plan[m.state] ?? rest[m.state];
    if (target === 'ignore') return;
    // As an agent does: its own write, after the intent, from its own turn of the loop.
    setImmediate(() => {
      store
        .updateMachine(m.id, { patch: { state: target }, expectState: [m.state], events: [machineEvent(m.state.replace(/ing$/, ''), target, 'flyd')] })
        .catch(() => {});
    });
  });
  const proxy = createProxy({
    store,
    port: 0,
    ...options,
    autoscale: { store, autostopIntervalMs: options.autostopIntervalMs ?? 0, autostartWaitMs: options.autostartWaitMs ?? 5000, drainMs: 2000 },
  });
  const { port } = await proxy.listen();
  return {
    store,
    proxy,
    port,
    app,
    plan,
    async machine(backendPort, state, opts = {}) {
      const service: MachineService = {
        protocol: 'tcp',
        internal_port: backendPort,
        ports: [{ port: 80, handlers: ['http'] }],
        autostart: true,
        autostop: 'stop',
        ...opts.service,
      };
      const created = await store.createMachine(
        sampleMachine({ appName: app, state, region: opts.region ?? 'local', addresses: { ipv4: '127.0.0.1', ipv6: 'fdaa::9' }, config: { image: 'x', services: [service] } }),
      );
      await proxy.table.whenRevision(await store.revision());
      return created;
    },
    settled: async () => proxy.table.whenRevision(await store.revision()),
    async proxyEvents(id) {
      const events = await store.listEvents(id);
      return events
        .filter((e) => e.source === 'proxy')
        .reverse()
        .map((e) => `${e.type}:${e.status}`);
    },
    async close() {
      unwatch();
      await proxy.close();
      await store.close();
    },
  };
}
