import type { MachineConfig } from '../../src/model/index.ts';

/** The example app's name, as `aloft up` deploys it. */
export const HELLO_APP = 'hello';

/**
 * The Machine config `aloft up` gives the example: its image, and one HTTP service on
 * port 8080 served at http://hello.localhost:8080 through the proxy. This is what
 * examples/hello/aloft.toml says; `aloft deploy` will read that file directly.
 */
export function helloMachineConfig(imagePath: string): MachineConfig {
  return {
    image: imagePath,
    env: { GREETING: 'Hello from aloft' },
    guest: { cpu_kind: 'shared', cpus: 1, memory_mb: 256 },
    services: [
      {
        protocol: 'tcp',
        internal_port: 8080,
        ports: [
          { port: 80, handlers: ['http'] },
          { port: 443, handlers: ['tls', 'http'] },
        ],
      },
    ],
    restart: { policy: 'on-failure', max_retries: 10 },
    stop_config: { signal: 'SIGTERM', timeout: '5s' },
    // As every Machine made from an app config: its process group (deploys look for it).
    metadata: { fly_process_group: 'app' },
  };
}
