import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { createApiApp, listenApi } from '../api/index.ts';
import { Agent, LocalHostControl, MachineLogs } from '../agent/index.ts';
import { ImageStore, prepareRootfs, releaseRootfs } from '../image/index.ts';
import { silentLogger, type Logger } from '../lib/log.ts';
import { shortId } from '../lib/ids.ts';
import { LinuxHostNetwork } from '../net/index.ts';
import { createProxy } from '../proxy/index.ts';
import { DriverSet, OciDriver } from '../runtime/index.ts';
import { MicrovmDriver } from '../runtime/microvm/index.ts';
import { Scheduler, localCapacity, type HostInfo } from '../scheduler/index.ts';
import { openSqliteStore, type Store } from '../store/index.ts';
import { acquireLock } from './lock.ts';
import { hostVolumes } from '../agent/volumes/index.ts';
import { startPlatformRegistry } from './registry.ts';
import { hostRegistration } from '../cluster/host-registration.ts';
import { HostHeartbeat } from '../cluster/host-heartbeat.ts';
import { HostDirectory } from '../cluster/host-directory.ts';
import type { PlatformSettings } from './settings.ts';
import { ensureToken } from './token.ts';
import { ensurePlatformKey, platformKeyPath, SecretVault } from '../secrets/index.ts';
import { startPrivateNetwork, type RunningPrivateNetwork } from './private-network.ts';
import { loadOrCreateHostKey } from '../net/wireguard/index.ts';

export interface RunningPlatform {
  settings: PlatformSettings;
  store: Store;
  host: HostInfo;
  token: string;
  apiUrl: string;
  proxyUrl: string;
  /** The proxy's TLS port (https, HTTP/2), when it has one. */
  proxyTlsUrl?: string;
  /** The image registry; org tokens push and pull `<org>/…` (see registryAccess). */
  registryUrl: string;
  /** The private network (6PN): resolver on fdaa::3, isolation rules, WireGuard mesh. */
  privateNetwork: RunningPrivateNetwork;
  /** Stops the agent only (machines keep running), as a crash or upgrade would. */
  restartAgent(): Promise<void>;
  /** Stops everything; with `stopMachines` (the default) running Machines are stopped too. */
  stop(options?: { stopMachines?: boolean }): Promise<void>;
}

/**
 * The embedded platform of `aloft up`: one process with the SQLite store, the API,
 * the image registry, the private network (DNS on fdaa::3, isolation rules, WireGuard),
 * one host agent and the proxy. Ports are bound before the agent touches the host, so
 * a second `aloft up` fails cleanly and changes nothing.
 */
export async function startEmbeddedPlatform(settings: PlatformSettings, log: Logger = silentLogger): Promise<RunningPlatform> {
  await mkdir(settings.dataDir, { recursive: true, mode: 0o700 });
  const lock = await acquireLock(settings.dataDir);
  const cleanups: (() => Promise<void>)[] = [() => lock.release()];
  const unwind = async (): Promise<void> => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch((err: unknown) => log.warn({ err }, 'cleanup failed'));
  };
  try {
    const token = await ensureToken(settings.dataDir);
    // Before anything listens: a bad key file stops the start with its reason.
    const secretsKey = await ensurePlatformKey(platformKeyPath(settings.dataDir));
    const store = await openSqliteStore({ path: join(settings.dataDir, 'aloft.db') });
    cleanups.push(() => store.close());
    const secretVault = new SecretVault(store, secretsKey);
    const host = await localHost(store, settings);
    // Machines may run images pushed to this platform's own registry, which wants a
    // token: pulls from it (its host:port, known once it listens) carry the operator's.
    const own: { registry?: string } = {};
    const images = new ImageStore(join(settings.dataDir, 'images'), {
      credentials: (registryHost) => (registryHost === own.registry ? { username: 'aloft', password: token } : undefined),
    });
    // The one host is in the host registry as a cluster's are, and placement reads the
    // registry; it measures this machine: its cores, memory, disk under the data dir, GPUs.
    // It beats as `aloft agent` does, so an `aloft api` HostMonitor on the same store
    // (a platform grown into a cluster) does not mark it down and move its Machines.
    // The host key is the private network's (its WireGuard mesh), published here for peers.
    const wireguardKey = await loadOrCreateHostKey(join(settings.dataDir, 'wireguard.key'));
    const heartbeat = new HostHeartbeat({ store, hostId: host.id, log, registration: () => hostRegistration(settings.dataDir, host, wireguardKey.publicKey, null) });
    await heartbeat.start();
    cleanups.push(() => heartbeat.stop());
    const hosts = new HostDirectory(store, { log });
    await hosts.start();
    cleanups.push(() => Promise.resolve(hosts.stop()));
    const scheduler = new Scheduler(hosts, { capacity: localCapacity(settings.dataDir) });

    // One set of drivers per agent: the microvm driver holds each VM's channel (one
    // client per socket), so signal, exec and ps go through the agent's own set.
    let drivers = hostDrivers(settings, log);
    // Machine output outlives agent restarts: the next agent adopts and keeps following.
    const machineLogs = new MachineLogs({ log });
    cleanups.push(() => machineLogs.close());
    const hostControl = new LocalHostControl(
      host.id,
      {
        signal: (id, signal) => drivers.signal(id, signal),
        exec: (id, request) => drivers.exec(id, request),
        ps: (id) => drivers.ps(id),
      },
      machineLogs,
    );
    const api = await listenApi(createApiApp({ store, images, scheduler, token, log, hostControl, secretVault }), { host: settings.apiHost, port: settings.apiPort });
    cleanups.push(() => api.close());
    const registry = await startPlatformRegistry({ dataDir: settings.dataDir, host: settings.registryHost, port: settings.registryPort, operatorToken: token, store, log });
    cleanups.push(() => registry.close());
    own.registry = new URL(registry.url).host;
    // The private network before the agent: a Machine that starts finds its resolver
    // (fdaa::3 on the bridge) and its org's isolation rules already there.
    const hostNetwork = new LinuxHostNetwork({ bridge: settings.bridge, netnsPrefix: settings.netnsPrefix, ipv4Subnet: settings.ipv4Subnet });
    await hostNetwork.ensureBridge();
    const privateNetwork = await startPrivateNetwork({
      store,
      hostId: host.id,
      hostNumber: settings.hostNumber,
      region: settings.region,
      dataDir: settings.dataDir,
      bridge: hostNetwork.bridge,
      machinePortPrefix: hostNetwork.vethPrefix,
      meshPort: settings.meshPort,
      privateKey: wireguardKey.privateKey,
      apiPort: api.port,
      log,
    });
    cleanups.push(() => privateNetwork.close());
    // The proxy starts and stops Machines (autostart/autostop) by writing intents to the store, as the API does.
    const proxy = createProxy({
      store,
      host: settings.proxyHost,
      port: settings.proxyPort,
      domain: settings.domain,
      region: settings.region,
      log,
      autoscale: { store, autostopIntervalMs: settings.autostopIntervalMs },
      ...(settings.tlsPort === null ? {} : { tls: { port: settings.tlsPort, certs: join(settings.dataDir, 'certs') } }),
    });
    const proxyAddress = await proxy.listen();
    cleanups.push(() => proxy.close());

    const makeAgent = (): Agent =>
      new Agent({
        host,
        store,
        dataDir: settings.dataDir,
        log,
        driver: drivers,
        network: hostNetwork,
        images: {
          imageConfig: async (digest) => (await images.get(digest)).config,
          unpack: (digest) => images.unpack(digest),
          prepareRootfs,
          releaseRootfs,
          ext4Image: (digest) => images.ext4Image(digest),
        },
        volumes: hostVolumes(store, host, settings.dataDir, log),
        logs: machineLogs,
        secrets: secretVault,
      });
    let agent = makeAgent();
    await agent.start();

    let stopped = false;
    return {
      settings,
      store,
      host,
      token,
      apiUrl: `http://${settings.apiHost}:${api.port}`,
      proxyUrl: `http://${settings.proxyHost}:${proxyAddress.port}`,
      ...(proxyAddress.tlsPort === undefined ? {} : { proxyTlsUrl: `https://${settings.proxyHost}:${proxyAddress.tlsPort}` }),
      registryUrl: registry.url,
      privateNetwork,
      async restartAgent() {
        await agent.stop({ stopMachines: false });
        drivers = hostDrivers(settings, log);
        agent = makeAgent();
        await agent.start();
      },
      async stop(options = {}) {
        if (stopped) return;
        stopped = true;
        await proxy.close();
        await agent.stop({ stopMachines: options.stopMachines ?? true });
        cleanups.pop(); // the proxy, closed above
        await unwind();
      },
    };
  } catch (err) {
    await unwind();
    throw err;
  }
}

/**
 * The host's drivers: `oci` (runsc or runc, the default) and `microvm` (QEMU). A Machine
 * picks with `config.guest.driver`; microvm is checked only when a Machine first asks,
 * so a host without QEMU runs oci Machines as before.
 */
function hostDrivers(settings: PlatformSettings, log: Logger): DriverSet {
  return new DriverSet(
    {
      oci: new OciDriver({ runtime: settings.runtime, stateRoot: join(settings.dataDir, settings.runtime), log }),
      microvm: new MicrovmDriver({ stateRoot: join(settings.dataDir, 'microvm'), cacheDir: settings.guestCacheDir, log }),
    },
    'oci',
  );
}

/** This host's identity, kept in the store so it survives restarts. */
async function localHost(store: Store, settings: PlatformSettings): Promise<HostInfo> {
  let id = await store.getMeta('embedded:host-id');
  if (id === undefined) {
    id = `host-${shortId(4)}`;
    await store.setMeta('embedded:host-id', id);
  }
  return { id, region: settings.region, number: settings.hostNumber, ipv4Subnet: settings.ipv4Subnet, drivers: [settings.runtime, 'microvm'] };
}
