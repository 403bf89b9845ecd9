import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { buildHelloImage } from '../../examples/hello/build.ts';
import { helloMachineConfig } from '../../examples/hello/app.ts';
import type { ApiClient, MachineView } from '../../src/cli/api-client.ts';
import { httpGet } from '../../src/lib/http-get.ts';
import { startTestPlatform, type TestPlatform } from './platform-process.ts';

interface Line {
  timestamp: string;
  machine_id: string;
  message: string;
}

/**
 * Machine logs end to end: `aloft up`, the hello example under gVisor, and its output
 * (the entrypoint's echo on stdout, httpd's request log on stderr) read back through the API —
 * kept lines and a follow stream — and the CLI.
 */
describe('machine logs: a Machine’s output through the API and CLI', { timeout: 240_000 }, () => {
  let harness: TestPlatform | undefined;
  let client: ApiClient;
  let machine: MachineView;

  before(async () => {
    harness = await startTestPlatform('logs');
    client = harness.client;
    const imagePath = await buildHelloImage(join(harness.dataDir, 'hello-image'));
    await client.post('/apps', { app_name: 'hello', org_slug: 'personal' });
    machine = await client.post<MachineView>('/apps/hello/machines', { config: helloMachineConfig(imagePath) });
    harness.machineIds.add(machine.id);
    await client.get(`/apps/hello/machines/${machine.id}/wait?state=started&timeout=60`);
  });
  after(async () => {
    await harness?.close();
  });

  test('the entrypoint’s first line is kept, and a request’s log line arrives on a follow stream', async () => {
    const { baseUrl, token } = client.options;
    const controller = new AbortController();
    const response = await fetch(`${baseUrl}/v1/apps/hello/machines/${machine.id}/logs?follow=true`, { headers: { authorization: `Bearer ${token}` }, signal: controller.signal });
    assert.equal(response.status, 200);
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    let buffered = '';
    const seen: Line[] = [];
    /** Reads the stream until a line matches; the stream's own pace, no polling. */
    const until = async (pattern: RegExp): Promise<Line> => {
      for (;;) {
        const found = seen.find((l) => pattern.test(l.message));
        if (found) return found;
        const { value, done } = await reader.read();
        if (done) throw new Error(`stream ended before ${pattern}: ${JSON.stringify(seen)}`);
        buffered += decoder.decode(value, { stream: true });
        const parts = buffered.split('\n');
        buffered = parts.pop()!;
        seen.push(...parts.filter(Boolean).map((p) => JSON.parse(p) as Line));
      }
    };
    try {
      const first = await until(/^hello: serving on port 8080: Hello from aloft/);
      assert.equal(first.machine_id, machine.id);
      assert.match(first.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      // A request through the proxy (retried while the Machine comes up: it may not listen yet).
      for (let i = 0; i < 400; i++) {
        const answer = await httpGet(`http://127.0.0.1:${harness!.platform.options.proxyPort}/logs-probe`, { host: 'hello.localhost' }).catch(() => ({ status: 0 }));
        if (answer.status !== 0 && answer.status !== 502 && answer.status !== 503) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      // busybox httpd -v logs each answer on stderr: "[client]:port: response:404".
      await until(/: response:404$/);
    } finally {
      controller.abort();
    }
  });

  test('`aloft machine logs -n 1` prints the last line; lines outlive a stop', async () => {
    const aloft = (...args: string[]) =>
      spawnSync(process.execPath, [join(import.meta.dirname, '..', '..', 'bin', 'aloft.js'), ...args], {
        encoding: 'utf8',
        env: { ...process.env, ALOFT_API_URL: client.options.baseUrl, ALOFT_API_TOKEN: client.options.token, NO_COLOR: '1' },
      });
    const kept = await client.get<Line[]>(`/apps/hello/machines/${machine.id}/logs`);
    const printed = aloft('machine', 'logs', machine.id, '--app', 'hello', '-n', '1');
    assert.equal(printed.status, 0, printed.stderr);
    assert.equal(printed.stdout, `${kept.at(-1)!.timestamp} ${kept.at(-1)!.message}\n`);

    const stop = aloft('machine', 'stop', machine.id, '--app', 'hello');
    assert.equal(stop.status, 0, stop.stderr);
    const after = await client.get<Line[]>(`/apps/hello/machines/${machine.id}/logs`);
    assert.ok(after.some((l) => /^hello: serving on port 8080/.test(l.message)), 'a stopped Machine keeps its lines');
  });
});
