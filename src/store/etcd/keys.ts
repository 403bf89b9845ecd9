import type { Change } from '../store.ts';

/**
 * The etcd key layout, all under one prefix (default `/aloft/`). Values are JSON.
 *
 *   apps/<name>                         App               (watched: app changes)
 *   machines/<id>                       Machine           (watched: machine changes)
 *   volumes/<id>                        Volume            (watched: volume changes)
 *   hosts/<id>                          HostRecord        (watched: host changes)
 *   host-beats/<id>                     heartbeatAt       (not watched: beats publish nothing)
 *   roles/<role>                        RoleLease
 *   peers/<org>/<name>                  UserPeer          (watched: peer changes, key <org>/<name>)
 *   ips/<address>                       AppIp             (watched: ip changes)
 *   peer-gateways/<host>                PeerGatewayRecord
 *   events/<machine>/<unique>           {n, event}        ordered by create revision, then n
 *   versions/<machine>/<instance>       MachineVersion
 *   leases/<machine>                    lease record
 *   snapshots/<id>                      VolumeSnapshot
 *   releases/<app>/<version, 10 digits> Release
 *   release-events/<app>/<release>/<seq, 10 digits>  ReleaseEvent
 *   secrets/<app>/<name>                StoredSecret (bytes as base64)
 *   org-keys/<org>                      OrgDataKey
 *   orgs/<slug>, tokens/<id>            Org, ApiToken
 *   meta/<key>                          the raw string
 *   seq/<name>                          empty; the key's etcd version is the counter
 *   idx/...                             secondary indexes, written in the same transaction
 *                                       as their record: machine-app, machine-host,
 *                                       machine-name (live names only), volume-app,
 *                                       volume-host, snapshot-volume, token-hash, release-id,
 *                                       host-number, peer-address, peer-key, ip-app
 *
 * Every segment is URI-encoded, so names holding `/` cannot reach another record's keys.
 */
export class EtcdKeys {
  readonly prefix: string;

  constructor(prefix: string) {
    this.prefix = prefix.endsWith('/') ? prefix : `${prefix}/`;
  }

  /** The key of `parts` under the prefix, each part encoded. */
  key(...parts: (string | number)[]): string {
    return this.prefix + parts.map((p) => encodeURIComponent(String(p))).join('/');
  }

  /** A prefix that ends with `/`, for listing everything under `parts`. */
  dir(...parts: (string | number)[]): string {
    return `${this.key(...parts)}/`;
  }

  app(name: string): string {
    return this.key('apps', name);
  }

  machine(id: string): string {
    return this.key('machines', id);
  }

  volume(id: string): string {
    return this.key('volumes', id);
  }

  /**
   * What a watched key is: `apps/…`, `machines/…`, `volumes/…`, `hosts/…`, `peers/…/…` and `ips/…` map to Change kinds;
   * every other key (indexes, events, meta…) publishes nothing.
   */
  changeKind(key: string): { kind: Change['kind']; id: string } | undefined {
    if (!key.startsWith(this.prefix)) return undefined;
    const [top, ...rest] = key.slice(this.prefix.length).split('/');
    const parts = rest.map(decodeURIComponent);
    // A peer's name is unique in its org only, so its Change key is `<org>/<name>`.
    if (top === 'peers') return parts.length === 2 ? { kind: 'peer', id: parts.join('/') } : undefined;
    const kind = ({ apps: 'app', machines: 'machine', volumes: 'volume', hosts: 'host', ips: 'ip' } as const)[top as 'apps'];
    return kind === undefined || parts.length !== 1 ? undefined : { kind, id: parts[0]! };
  }
}

/** The zero-padded form of a number, so keys sort as the numbers do. */
export function padded(n: number): string {
  return String(n).padStart(10, '0');
}

/** The exclusive end of the range of keys starting with `prefix` (etcd's "prefix + 1"). */
export function prefixEnd(prefix: string): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i] = end[i]! + 1;
      return end.subarray(0, i + 1);
    }
  }
  // All 0xff: etcd reads "\0" as "to the end of the keyspace".
  return Buffer.from([0]);
}
