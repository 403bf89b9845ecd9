/**
 * The catalogue of every error code aloft can raise. One place, so that codes stay
 * unique, each has an HTTP status and a kind, and clients can rely on them.
 *
 * kind `user`: the caller asked for something invalid or impossible; fix the request.
 * kind `system`: aloft or the host failed; retry or look at the logs.
 */
export const ERROR_CODES = {
  // request validation (the edges: HTTP, CLI, config files)
  INVALID_ARGUMENT: { status: 400, kind: 'user', summary: 'a field failed validation' },
  MALFORMED_JSON: { status: 400, kind: 'user', summary: 'the request body is not valid JSON' },
  CONFIG_INVALID: { status: 400, kind: 'user', summary: 'an app config file (fly.toml, aloft.toml) is not valid TOML or a value breaks its rule; the message names file, line and key' },
  UNAUTHORIZED: { status: 401, kind: 'user', summary: 'missing or wrong bearer token' },
  NOT_FOUND: { status: 404, kind: 'user', summary: 'no such route' },
  FORBIDDEN: { status: 403, kind: 'user', summary: "the token's scope does not allow this (read-only, another app, or not the operator)" },
  PAYLOAD_TOO_LARGE: { status: 413, kind: 'user', summary: 'the request body is over the size limit' },
  RATE_LIMITED: { status: 429, kind: 'user', summary: 'too many requests for this machine and action; retry after Retry-After seconds' },

  // apps
  APP_NOT_FOUND: { status: 404, kind: 'user', summary: 'no app by that name' },
  APP_EXISTS: { status: 409, kind: 'user', summary: 'an app by that name already exists' },
  APP_HAS_MACHINES: { status: 409, kind: 'user', summary: 'the app still has live machines' },
  APP_HAS_VOLUMES: { status: 409, kind: 'user', summary: 'the app still has volumes that are not destroyed' },

  // organizations and API tokens
  ORG_NOT_FOUND: { status: 404, kind: 'user', summary: 'no org by that slug' },
  ORG_EXISTS: { status: 409, kind: 'user', summary: 'an org by that slug already exists' },
  TOKEN_NOT_FOUND: { status: 404, kind: 'user', summary: 'no API token by that id' },

  // machine leases
  LEASE_NOT_FOUND: { status: 404, kind: 'user', summary: 'the machine has no unexpired lease' },
  MACHINE_LEASED: { status: 409, kind: 'user', summary: "another holder's unexpired lease covers the machine; send its nonce in fly-machine-lease-nonce" },

  // machines
  MACHINE_NOT_FOUND: { status: 404, kind: 'user', summary: 'no machine by that id in the app' },
  MACHINE_NAME_TAKEN: { status: 409, kind: 'user', summary: 'a machine by that name exists in the app' },
  ILLEGAL_TRANSITION: { status: 412, kind: 'user', summary: 'the machine cannot do that in its current state' },
  WAIT_TIMEOUT: { status: 408, kind: 'user', summary: 'the machine did not reach the state in time' },
  WAIT_UNREACHABLE: { status: 409, kind: 'user', summary: 'the machine came to rest in a state it cannot leave for the one waited for without a new request (failed, destroyed)' },
  METADATA_NOT_FOUND: { status: 404, kind: 'user', summary: 'the machine has no metadata key by that name' },
  EXEC_TIMEOUT: { status: 408, kind: 'user', summary: 'a command run in the machine did not finish in time' },
  HOST_UNAVAILABLE: { status: 503, kind: 'system', summary: "the machine's host cannot be reached for this action" },

  // cluster mode's host registry
  HOST_NOT_FOUND: { status: 404, kind: 'user', summary: 'no registered host by that id' },
  HOST_DOWN: { status: 503, kind: 'system', summary: "the host is marked down (missed heartbeats); its agent must register again, and actions on its machines wait for that" },
  NO_HOSTS: { status: 503, kind: 'system', summary: 'no host is up to place machines on (cluster mode: no agent has registered, or every one is down)' },

  // volumes
  VOLUME_NOT_FOUND: { status: 404, kind: 'user', summary: 'no volume by that id in the app' },
  VOLUME_SNAPSHOT_NOT_FOUND: { status: 404, kind: 'user', summary: 'no snapshot by that id' },
  VOLUME_IN_USE: { status: 409, kind: 'user', summary: 'a machine that is not destroyed mounts the volume' },
  VOLUME_ILLEGAL_STATE: { status: 412, kind: 'user', summary: 'the volume cannot do that in its current state' },
  VOLUME_FAILED: { status: 500, kind: 'system', summary: 'a volume operation on the host disk failed' },
  VOLUME_HOST_FULL: { status: 412, kind: 'user', summary: "the volume's host has too little free disk for it (create or extend); the message names the host and its free space and offers a fork to another host" },

  // user WireGuard peers and Flycast addresses (src/net/peers, src/flycast)
  PEER_NOT_FOUND: { status: 404, kind: 'user', summary: 'no WireGuard peer by that name in the org' },
  PEER_EXISTS: { status: 409, kind: 'user', summary: 'the org already has a WireGuard peer by that name' },
  NO_PEER_GATEWAY: { status: 412, kind: 'user', summary: 'no host of the region asked runs a WireGuard gateway for user peers; the message lists the regions that have one' },
  IP_NOT_FOUND: { status: 404, kind: 'user', summary: 'no IP address like that is allocated (to the app)' },

  // regions, placement and scaling
  REGION_UNKNOWN: { status: 400, kind: 'user', summary: "the region code is not in 'aloft regions list'; the message suggests the nearest one" },
  CAPACITY_EXHAUSTED: { status: 412, kind: 'user', summary: 'no host (of the region asked) has enough free cpus, memory, disk or GPUs for the machines asked; the message names the resource and where' },
  SCALE_IMAGE_MOVED: { status: 409, kind: 'user', summary: "a machine's image tag now names another digest than the one it runs; a scale never changes images, so deploy first" },
  SCALE_NOTHING_TO_CLONE: { status: 412, kind: 'user', summary: 'scale count needs one machine of the process group to copy, and the group has none' },

  // deploys and releases (src/deploy)
  DEPLOY_FAILED: { status: 422, kind: 'user', summary: "a deploy's rollout failed: a Machine exited, failed its checks or did not start in time; the message names it and its last log lines" },
  DEPLOY_CONFLICT: { status: 409, kind: 'user', summary: "another deploy of the app is running, or one of its Machines is leased by someone else; the message names the holder" },
  RELEASE_NOT_FOUND: { status: 404, kind: 'user', summary: 'the app has no release by that number (or none to roll back to)' },
  RELEASE_COMMAND_FAILED: { status: 422, kind: 'user', summary: "the deploy's release_command exited non-zero or ran past release_command_timeout; nothing was rolled out" },

  // app secrets (src/secrets)
  SECRET_INVALID: { status: 400, kind: 'user', summary: "a secret's name breaks Fly's rule ([A-Za-z_][A-Za-z0-9_]*, not FLY_…) or its value is empty, over 64 KiB or holds a NUL byte; values are never echoed" },
  SECRET_NOT_FOUND: { status: 404, kind: 'user', summary: 'the app has no secret by that name (to unset)' },
  SECRETS_KEY_INVALID: { status: 500, kind: 'system', summary: "the platform's secrets key file is missing, not 32 bytes, readable by group or others, or does not open the org's data key" },
  SECRET_DECRYPT_FAILED: { status: 500, kind: 'system', summary: 'a stored secret failed authentication: tampered with, moved between rows, or sealed under another key' },
  SECRETS_DEPLOY_FAILED: { status: 422, kind: 'user', summary: "a Machine did not come back started after the rolling restart that applies secrets; the secrets stay staged and later Machines were left alone" },

  // images
  IMAGE_NOT_FOUND: { status: 400, kind: 'user', summary: 'the image reference names nothing' },
  IMAGE_INVALID: { status: 400, kind: 'user', summary: 'the image is malformed or fails verification' },
  IMAGE_UNSAFE: { status: 400, kind: 'user', summary: 'an image layer tries to escape its root' },
  IMAGE_PULL_UNAUTHORIZED: { status: 400, kind: 'user', summary: "a registry or its token server refused the pull's credentials (or their absence)" },
  IMAGE_PULL_FAILED: { status: 502, kind: 'system', summary: 'a registry kept failing (5xx) or stopped answering while pulling, after retries' },
  BUILD_FAILED: { status: 422, kind: 'user', summary: 'an image build (Dockerfile, app, base image seed) failed; the message holds the log tail' },
  BUILD_TOOL_MISSING: { status: 500, kind: 'system', summary: 'a program image builds need (buildah, debootstrap, busybox) is not installed' },
  IMAGE_PUSH_FAILED: { status: 502, kind: 'system', summary: 'the registry refused or failed an image push' },

  // the image registry (src/image/registry): each maps to the OCI Distribution Spec code in its name
  REGISTRY_BLOB_UNKNOWN: { status: 404, kind: 'user', summary: 'the repository has no blob by that digest' },
  REGISTRY_BLOB_UPLOAD_UNKNOWN: { status: 404, kind: 'user', summary: 'no blob upload session by that id in the repository' },
  REGISTRY_BLOB_UPLOAD_INVALID: { status: 416, kind: 'user', summary: 'the chunk does not start where the upload ends' },
  REGISTRY_DIGEST_INVALID: { status: 400, kind: 'user', summary: 'the digest is malformed or does not match the content' },
  REGISTRY_MANIFEST_INVALID: { status: 400, kind: 'user', summary: 'the manifest is malformed or of an unsupported media type' },
  REGISTRY_MANIFEST_UNKNOWN: { status: 404, kind: 'user', summary: 'the repository has no manifest by that tag or digest' },
  REGISTRY_MANIFEST_BLOB_UNKNOWN: { status: 400, kind: 'user', summary: 'the manifest references a blob or manifest the repository lacks' },
  REGISTRY_NAME_INVALID: { status: 400, kind: 'user', summary: 'the repository name or tag breaks the spec grammar' },
  REGISTRY_NAME_UNKNOWN: { status: 404, kind: 'user', summary: 'no repository by that name' },
  REGISTRY_RANGE_INVALID: { status: 416, kind: 'user', summary: 'the requested byte range lies outside the blob' },
  REGISTRY_UNSUPPORTED: { status: 405, kind: 'user', summary: 'the registry does not support that operation' },
  REGISTRY_DENIED: { status: 403, kind: 'user', summary: 'the authorize hook refused access to the repository' },

  // the edge proxy's own answers, given instead of a backend's (src/proxy/answers.ts)
  PROXY_NO_ROUTE: { status: 404, kind: 'user', summary: "the Host names no app under the edge's domain" },
  PROXY_NO_STARTED_MACHINE: { status: 503, kind: 'system', summary: 'the app has no started machine; retry shortly' },
  PROXY_BACKEND_UNREACHABLE: { status: 502, kind: 'system', summary: 'no started machine of the app accepted a connection' },
  PROXY_BACKEND_FAILED: { status: 502, kind: 'system', summary: 'the machine failed after the request was sent and before it answered' },
  PROXY_INTERNAL: { status: 500, kind: 'system', summary: 'a bug in the proxy itself' },
  PROXY_BAD_REQUEST: { status: 400, kind: 'user', summary: 'the request is ambiguous (e.g. more than one Host) and could be read two ways; refused' },
  PROXY_TOO_MANY_HEADERS: { status: 431, kind: 'user', summary: "the request has more header fields than the edge's limit" },
  PROXY_RATE_LIMITED: { status: 429, kind: 'user', summary: 'too many requests from this client address; retry after Retry-After seconds' },
  PROXY_REPLAY_INVALID: { status: 502, kind: 'system', summary: 'the machine answered with a fly-replay the edge cannot read' },
  PROXY_REPLAY_FAILED: { status: 502, kind: 'system', summary: 'the fly-replay target has no machine that could take the request' },
  PROXY_REPLAY_TOO_LARGE: { status: 413, kind: 'user', summary: "the request body is over the edge's replay cap, so the fly-replay a machine asked for cannot be made" },
  PROXY_REPLAY_LOOP: { status: 508, kind: 'system', summary: 'the request was replayed more times than the hop limit (a fly-replay loop)' },
  PROXY_AT_CAPACITY: { status: 503, kind: 'system', summary: "every machine the request may go to is at its hard_limit and the wait queue is full or timed out; retry after Retry-After seconds" },
  PROXY_FORCED_TARGET_UNAVAILABLE: { status: 503, kind: 'system', summary: 'the region or machine named by fly-force-region / fly-force-instance-id has no started, healthy machine' },
  PROXY_AUTOSTART_FAILED: { status: 503, kind: 'system', summary: 'the app had no started machine and the one the proxy started did not become started and healthy in time; retry shortly' },

  // private DNS (src/dns)
  DNS_MALFORMED: { status: 400, kind: 'user', summary: 'a DNS message is not valid RFC 1035 wire format (answered FORMERR, never crashes the server)' },
  DNS_FAILED: { status: 500, kind: 'system', summary: 'the private DNS server could not listen or its upstream resolver could not be used' },

  // runtime and host
  RUNTIME_FAILED: { status: 500, kind: 'system', summary: 'the runtime driver failed' },
  RUNTIME_MISSING: { status: 500, kind: 'system', summary: 'a runtime binary is not installed' },
  VMM_FAILED: { status: 500, kind: 'system', summary: 'the virtual machine monitor (QEMU) failed to boot, answer or save a VM' },
  QMP_FAILED: { status: 500, kind: 'system', summary: "QEMU's control socket (QMP) refused a command, answered with an error or did not answer" },
  ROOTFS_FAILED: { status: 500, kind: 'system', summary: 'preparing or releasing a machine root filesystem failed' },
  GUEST_BUILD_FAILED: { status: 500, kind: 'system', summary: 'fetching the guest kernel or building the guest init or initramfs failed' },
  GUEST_PROTOCOL: { status: 500, kind: 'system', summary: 'the guest init sent a message the host cannot read (PROTOCOL.md)' },
  NETWORK_FAILED: { status: 500, kind: 'system', summary: 'setting up machine networking failed' },
  WIREGUARD_FAILED: { status: 500, kind: 'system', summary: "wireguard-go (the host's private-network tunnel) is missing, did not start, died, or its control socket refused a command" },
  FIREWALL_FAILED: { status: 500, kind: 'system', summary: "nft refused or failed to apply the host's isolation rules (the aloft tables are left as they were)" },
  BIRD_FAILED: { status: 500, kind: 'system', summary: "bird2 (the edge's and lab routers' BGP daemon) is missing, refused its config, did not start, or its control socket (birdc) refused a command" },
  LAB_FAILED: { status: 500, kind: 'system', summary: "building, faulting or removing an 'aloft lab' world of namespaces failed (ip, socat or a lab process); the message names the step" },
  LAB_NOT_FOUND: { status: 404, kind: 'user', summary: "no 'aloft lab' by that name is up (no /run/aloft-lab/<name>.json)" },
  LAB_EXISTS: { status: 409, kind: 'user', summary: "an 'aloft lab' by that name is already up; 'aloft lab down' it first" },
  STORE_FAILED: { status: 500, kind: 'system', summary: 'the state store failed' },
  STORE_CONFLICT: { status: 409, kind: 'user', summary: 'the record changed since it was read; retry' },
  ALREADY_RUNNING: { status: 409, kind: 'user', summary: 'another aloft instance holds this data dir or port' },
  INTERNAL: { status: 500, kind: 'system', summary: 'an unexpected internal error' },
} as const satisfies Record<string, { status: number; kind: 'user' | 'system'; summary: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;
