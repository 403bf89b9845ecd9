import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NO_TCP_YET, parseTcpActivity, whyNotQuiet, type TcpActivity } from './oci-checkpoint.ts';
import { checkpointCommandLine, restoreCommandLine } from './oci-commands.ts';
import { kernelLogShowsOomKill, oomKillCount } from './oci-oom.ts';

// As read in a runsc sandbox after one HTTP request to its busybox httpd (measured).
const SNMP = [
  'Tcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens PassiveOpens AttemptFails EstabResets CurrEstab InSegs OutSegs RetransSegs InErrs OutRsts InCsumErrors',
  'Tcp: 1 200 120000 -1 0 1 0 0 0 6 6 0 0 0 0',
].join('\n');
const TCP6 = [
  '  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
  '   0: 00000000000000000000000000000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0        1 2 0000000000000000 0 0 0 0 -1',
].join('\n');

describe('oci checkpoint safety', () => {
  it('reads the sandbox TCP counters, and counts only non-listening sockets as open', () => {
    assert.deepEqual(parseTcpActivity(`${SNMP}\n${TCP6}\n`), { established: 0, openSockets: 0, counters: '0 1 0 0 6 6 0' });
    const established = `${TCP6}\n   1: 0000000000000000FFFF00000200001D:1F90 0000000000000000FFFF00000100001D:C350 01 00000000:00000000 00:00000000 00000000 0 0 2 1`;
    assert.equal(parseTcpActivity(`${SNMP}\n${established}`)?.openSockets, 1);
  });

  it('refuses to judge without the snmp Tcp lines', () => {
    assert.equal(parseTcpActivity('cat: /proc/net/snmp: No such file or directory'), null);
  });

  it('runs checkpoint and restore behind the netns workaround', () => {
    const input = { runtime: 'runsc' as const, stateRoot: '/r', runscNetwork: 'sandbox' as const, bundle: '/b', machineId: 'm1', pidFile: '/p', logFile: '/l', netnsPath: '/var/run/netns/n' };
    const checkpoint = checkpointCommandLine(input, '/img');
    assert.deepEqual(checkpoint.slice(0, 2), ['unshare', '-m']);
    assert.deepEqual(checkpoint.slice(-7), ['runsc', '--root', '/r', 'checkpoint', '--image-path', '/img', 'm1']);
    const restore = restoreCommandLine({ ...input, netnsPath: null }, '/img');
    assert.deepEqual(restore, ['runsc', '--root', '/r', '--log', '/l', '--log-format', 'json', '--network=none', 'restore', '--image-path', '/img', '--pid-file', '/p', '--bundle', '/b', 'm1']);
  });

  it('tells an OOM kill from the cgroup count or from the kernel log line naming the run cgroup', () => {
    assert.equal(oomKillCount('oom_kill_disable 0\nunder_oom 0\noom_kill 1\n'), 1);
    const log = '[11386.540019] oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=o4-3b,mems_allowed=0,oom_memcg=/aloft/o4-3b,task_memcg=/aloft/o4-3b,task=exe,pid=13420,uid=65534';
    assert.equal(kernelLogShowsOomKill(log, '/aloft/o4-3b'), true);
    assert.equal(kernelLogShowsOomKill(log, '/aloft/o4'), false, 'a prefix of another run is not a match');
  });
});

describe('whyNotQuiet', () => {
  const dir = mkdtempSync(join(tmpdir(), 'aloft-quiet-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  let n = 0;
  const idle = (counters: string): TcpActivity => ({ established: 0, openSockets: 0, counters });
  /** A check whose reads answer in turn (the last one repeats), counting the reads. */
  const check = (answers: (TcpActivity | string)[], startedAt: number, quietMs: number) => {
    const reads = { count: 0 };
    const read = async () => answers[Math.min(reads.count++, answers.length - 1)]!;
    return { reads, run: () => whyNotQuiet({ read, sampleFile: join(dir, `sample-${n++}.json`), startedAt, quietMs, pollMs: 10 }) };
  };

  it('is quiet at once for a run that never had TCP and started long enough ago', async () => {
    const { run, reads } = check([idle(NO_TCP_YET)], Date.now() - 1000, 500);
    assert.equal(await run(), null);
    assert.equal(reads.count, 1);
  });

  it('waits out the rest of the quiet period, then is quiet', async () => {
    const started = Date.now();
    const { run } = check([idle(NO_TCP_YET)], started, 150);
    assert.equal(await run(), null);
    assert.ok(Date.now() - started >= 150);
  });

  it('starts the period again after earlier traffic, and is quiet once it passes with none', async () => {
    const before = Date.now();
    const { run } = check([idle('0 1 0 0 6 6 0')], before - 10_000, 100);
    assert.equal(await run(), null);
    assert.ok(Date.now() - before >= 100, 'waited a whole period from the first look');
  });

  it('refuses with an open connection, with traffic while it waits, and when it cannot read', async () => {
    assert.equal(await check([{ established: 1, openSockets: 1, counters: '1 0 0 0 3 3 0' }], 0, 100).run(), 'it has 1 open TCP connection');
    assert.equal(await check([idle('0 1 0 0 6 6 0'), idle('0 2 0 0 12 12 0')], 0, 1000).run(), 'it had TCP traffic within the last 1000 ms');
    assert.equal(await check(['its TCP state cannot be read (no cat)'], 0, 100).run(), 'its TCP state cannot be read (no cat)');
  });
});
