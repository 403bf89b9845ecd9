import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseRunscPs, readHostProcess } from './oci-ps.ts';

test('runsc ps tables become processes with the sandbox pid, command and CPU time', () => {
  const table = 'UID       PID       PPID      C         TTY       STIME     TIME      CMD\n0         1         0         17        ?         07:57     1.5s      sleep\n0  7  1  0  ?  07:58  10ms  sh -c x\n';
  assert.deepEqual(parseRunscPs(table), [
    { pid: 1, command: 'sleep', cpuTimeMs: 1500 },
    { pid: 7, command: 'sh -c x', cpuTimeMs: 10 },
  ]);
  assert.deepEqual(parseRunscPs(''), []);
});

test('a host process is read from /proc; one that is gone reads as undefined', async () => {
  const self = await readHostProcess(process.pid);
  assert.ok(self !== undefined && /node/.test(self.command), JSON.stringify(self));
  assert.ok((self.rssBytes ?? 0) > 0);
  assert.equal(await readHostProcess(2 ** 30), undefined);
});
