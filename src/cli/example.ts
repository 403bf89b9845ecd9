import { join } from 'node:path';
import { buildHelloImage } from '../../examples/hello/build.ts';
import { helloMachineConfig, HELLO_APP } from '../../examples/hello/app.ts';
import { httpGet } from '../lib/http-get.ts';
import { ApiError, type ApiClient, type MachineView } from './api-client.ts';

/**
 * Makes sure the bundled example app runs: builds its image (no Docker: the project's
 * own image writer), creates the app if needed, and starts its one Machine, creating it
 * the first time. Everything goes through the API, as a user's deploy would.
 */
export async function ensureExampleApp(client: ApiClient, dataDir: string): Promise<MachineView> {
  const imagePath = await buildHelloImage(join(dataDir, 'examples', 'hello'));
  try {
    await client.post('/apps', { app_name: HELLO_APP, org_slug: 'personal' });
  } catch (err) {
    if (!(err instanceof ApiError && err.code === 'APP_EXISTS')) throw err;
  }
  const path = `/apps/${HELLO_APP}/machines`;
  const machines = await client.get<MachineView[]>(path);
  let machine = machines[0];
  if (!machine) {
    machine = await client.post<MachineView>(path, { config: helloMachineConfig(imagePath) });
  } else if (machine.state !== 'started' && machine.state !== 'starting') {
    await client.post(`${path}/${machine.id}/start`);
  }
  await client.get(`${path}/${machine.id}/wait?state=started&timeout=60`);
  return client.get<MachineView>(`${path}/${machine.id}`);
}

/**
 * Waits until the proxy serves the app with a 200, bounded by `timeoutMs`: the Machine
 * is started once its process runs, but the process may need a moment to listen.
 */
export async function waitForHttp(url: string, host: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const response = await httpGet(url, { host, timeoutMs: 5000 });
      if (response.status === 200) return;
      last = `HTTP ${response.status} ${response.body.trim()}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`Cannot reach ${host} through the proxy within ${timeoutMs / 1000}s: last answer ${last}`);
}
