import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';

test('close() cuts requests still in flight after the grace and leaves nothing to keep the process alive', async () => {
  const script = fileURLToPath(new URL('./testing/close-exits.ts', import.meta.url));
  // The child must exit by itself; the kill timer only turns a hang into a failure.
  const child = spawn(process.execPath, ['--import', 'tsx', script], { stdio: ['ignore', 'pipe', 'inherit'], timeout: 20_000 });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => void (out += chunk.toString()));
  const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
  assert.equal(signal, null, 'the process had to be killed: something kept it alive after close()');
  assert.equal(code, 0);
  assert.equal(out.trim(), 'ok cut');
});
