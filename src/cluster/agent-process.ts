import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Agent, LocalHostControl, MachineLogs } from '../agent/index.ts';
import { hostVolumes } from '../agent/volumes/index.ts';
import { ImageStore, prepareRootfs, releaseRootfs } from '../image/index.ts';
import { silentLogger, type Logger } from '../lib/log.ts';
import { LinuxHostNetwork } from '../net/index.ts';
import { loadOrCreateHostKey } from '../net/wireguard/keys.ts';
import { acquireLock } from '../platform/lock.ts';
import { startPrivateNetwork } from '../platform/private-network.ts';
import { DriverSet, OciDriver } from '../runtime/index.ts';
import { MicrovmDriver } from '../runtime/microvm/index.ts';
import type { HostInfo } from '../scheduler/index.ts';
import { readPlatformKey, SecretVault } from '../secrets/index.ts';
import { openStoreFromUrl } from '../store/open-store.ts';
import { ClusterAgentImages, platformRegistryAccess } from './agent-images.ts';
import { listenHostControl } from './host-control-server.ts';
import { HostHeartbeat } from './host-heartbeat.ts';
import { hostRegistration } from './host-registration.ts';
import { readTokenFile } from './token-file.ts';

/** What `aloft agent` is told. */
export interface AgentProcessSettings {
  dataDir: string;
  /** e.g. `sqlite:/var/lib/aloft/aloft.db`. */
  storeUrl: string;
  hostId: string;
  region: string;
  /** This host's number in 6PN addresses; unique in the cluster. */
  hostNumber: number;
  /** The host-local IPv4 subnet for Machines (distinct per host when hosts share a machine). */
  ipv4Subnet: string;
  bridge: string;
  netnsPrefix: string;
  runtime: 'runsc' | 'runc';
  guestCacheDir: string;
  /** Where the HostControl RPC listens. */
  controlHost: string;
  controlPort: number;
  /** The URL the API calls, when the listen address is not what it should dial. */
  advertiseUrl?: string;
  /** The operator token the API presents (a file holding it). */
  tokenFile: string;
  /**
   * The platform's own registry (`aloft registry`), e.g. `http://10.0.0.5:5000`: pulls
   * from it carry the operator token; no other registry is sent it. Absent: none does.
   */
  registryUrl?: string;
  /** The platform's secrets key, shared with the API; without it Machines get no secrets. */
  secretsKeyFile?: string;
  heartbeatIntervalMs: number;
  /** The UDP port of this host's wireguard-go (0: any free one). */
  meshPort: number;
  /**
   * The address other hosts reach this host's mesh port at; published in the registry as
   * `<underlay>:<meshPort>`. Absent: no endpoint, so other hosts do not peer with this one.
   */
  underlay?: string;
}

export interface RunningAgentProcess {
  host: HostInfo;
  controlUrl: string;
  /** Stops the heartbeat, the RPC and the agent; Machines keep running unless `stopMachines`. */
  stop(options?: { stopMachines?: boolean }): Promise<void>;
}

/**
 * One host of a cluster (`aloft agent`): the agent following the shared store for this
 * host's Machines, its HostControl RPC for the API, the host's private network (6PN:
 * fdaa::3 resolver, isolation rules, the WireGuard mesh with the registry's other up
 * hosts as peers) and its place in the host registry (registered with what this
 * machine has, its key and underlay endpoint, then a heartbeat).
 */
export async function startAgentProcess(settings: AgentProcessSettings, log: Logger = silentLogger): Promise<RunningAgentProcess> {
  await mkdir(settings.dataDir, { recursive: true, mode: 0o700 });
  const lock = await acquireLock(settings.dataDir);
  const cleanups: (() => Promise<unknown>)[] = [() => lock.release()];
  const unwind = async (): Promise<void> => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch((err: unknown) => log.warn({ err }, 'cleanup failed'));
  };
  try {
    const token = await readTokenFile(settings.tokenFile, 'start the agent');
    const registry = settings.registryUrl === undefined ? undefined : platformRegistryAccess(settings.registryUrl, token);
    const store = await openStoreFromUrl(settings.storeUrl, { logger: log });
    cleanups.push(() => store.close());
    const host: HostInfo = { id: settings.hostId, region: settings.region, number: settings.hostNumber, ipv4Subnet: settings.ipv4Subnet, drivers: [settings.runtime, 'microvm'] };
    const drivers = new DriverSet(
      {
        oci: new OciDriver({ runtime: settings.runtime, stateRoot: join(settings.dataDir, settings.runtime), log }),
        microvm: new MicrovmDriver({ stateRoot: join(settings.dataDir, 'microvm'), cacheDir: settings.guestCacheDir, log }),
      },
      'oci',
    );
    const machineLogs = new MachineLogs({ log });
    cleanups.push(() => machineLogs.close());
    const control = new LocalHostControl(host.id, { signal: (id, s) => drivers.signal(id, s), exec: (id, r) => drivers.exec(id, r), ps: (id) => drivers.ps(id) }, machineLogs);
    const rpc = await listenHostControl(control, { token, host: settings.controlHost, port: settings.controlPort, log });
    cleanups.push(() => rpc.close());
    const controlUrl = settings.advertiseUrl ?? `http://${settings.controlHost.includes(':') ? `[${settings.controlHost}]` : settings.controlHost}:${rpc.port}`;

    const imageStore = new ImageStore(join(settings.dataDir, 'images'), { log, ...registry?.imageStoreOptions });
    const images = new ClusterAgentImages(imageStore, store, host.id, registry?.host);
    const secretsKey = settings.secretsKeyFile === undefined ? undefined : await readPlatformKey(settings.secretsKeyFile);
    // The private network before the agent, as in `aloft up`: a Machine that starts finds
    // its resolver (fdaa::3 on the bridge) and its org's isolation rules already there.
    const hostNetwork = new LinuxHostNetwork({ bridge: settings.bridge, netnsPrefix: settings.netnsPrefix, ipv4Subnet: settings.ipv4Subnet });
    await hostNetwork.ensureBridge();
    const wireguardKey = await loadOrCreateHostKey(join(settings.dataDir, 'wireguard.key'));
    const privateNetwork = await startPrivateNetwork({
      store,
      hostId: host.id,
      hostNumber: host.number,
      region: host.region,
      dataDir: settings.dataDir,
      bridge: hostNetwork.bridge,
      machinePortPrefix: hostNetwork.vethPrefix,
      meshPort: settings.meshPort,
      privateKey: wireguardKey.privateKey,
      // The control RPC is this host's agent port: Machines must not reach it.
      apiPort: rpc.port,
      underlay: settings.underlay,
      log,
    });
    // Rules stay whenever Machines may still run (a failed start, a stop that leaves
    // them): a later agent applies its own over them. Only stopMachines removes them.
    let keepRules = true;
    cleanups.push(() => privateNetwork.close({ keepRules }));
    const agent = new Agent({
      host,
      store,
      dataDir: settings.dataDir,
      log,
      driver: drivers,
      network: hostNetwork,
      images: { imageConfig: (d) => images.imageConfig(d), unpack: (d) => images.unpack(d), ext4Image: (d) => images.ext4Image(d), prepareRootfs, releaseRootfs },
      volumes: hostVolumes(store, host, settings.dataDir, log),
      logs: machineLogs,
      ...(secretsKey === undefined ? {} : { secrets: new SecretVault(store, secretsKey) }),
    });
    await agent.start();
    let agentStopped = false;
    cleanups.push(() => (agentStopped ? Promise.resolve() : agent.stop({ stopMachines: false })));

    // Registered last: the API sends work here only once the agent follows the store.
    const { wireguardPublicKey, addresses } = privateNetwork.registration();
    const heartbeat = new HostHeartbeat({
      store,
      hostId: host.id,
      intervalMs: settings.heartbeatIntervalMs,
      log,
      registration: () => hostRegistration(settings.dataDir, host, wireguardPublicKey, controlUrl, addresses.underlay),
    });
    await heartbeat.start();
    cleanups.push(() => heartbeat.stop());

    let stopped = false;
    return {
      host,
      controlUrl,
      async stop(options = {}) {
        if (stopped) return;
        stopped = true;
        await heartbeat.stop();
        agentStopped = true;
        const stopMachines = options.stopMachines ?? false;
        await agent.stop({ stopMachines });
        keepRules = !stopMachines;
        await unwind();
      },
    };
  } catch (err) {
    await unwind();
    throw err;
  }
}
