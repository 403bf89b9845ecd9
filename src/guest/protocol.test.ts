import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isAloftError } from '../lib/errors.ts';
import { decodeValueBytes, encodeValue } from './line-codec.ts';
import { decodeGuestMessage, encodeHostMessage, LineSplitter } from './protocol.ts';

test('every byte survives percent-encoding, and encoded values hold no space, newline or raw %', () => {
  const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  const encoded = encodeValue(all);
  assert.doesNotMatch(encoded, /[ \n\r\t]/);
  assert.deepEqual(decodeValueBytes(encoded), all);
  assert.equal(encodeValue('a b%c=d/é'), 'a%20b%25c=d/%C3%A9');
});

test('an exec request encodes as one line with repeated arg and env tokens in order', () => {
  const line = encodeHostMessage({ type: 'exec', id: '7', args: ['/bin/sh', '-c', 'echo "hi there"'], timeoutMs: 5000, uid: 1000, gid: 100, groups: [10, 20], cwd: '/app', env: { A: 'x y', B: '1=2' } });
  assert.equal(line, 'exec id=7 timeout_ms=5000 uid=1000 gid=100 groups=10,20 cwd=/app arg=/bin/sh arg=-c arg=echo%20%22hi%20there%22 env=A=x%20y env=B=1=2\n');
  assert.equal(encodeHostMessage({ type: 'signal', id: 's1', signal: 15 }), 'signal id=s1 sig=15\n');
  assert.equal(encodeHostMessage({ type: 'poweroff' }), 'poweroff\n');
  assert.equal(encodeHostMessage({ type: 'ps', id: 'p1' }), 'ps id=p1\n');
});

test('bad host messages are refused with the field and the value', () => {
  const cases: Array<[Parameters<typeof encodeHostMessage>[0], RegExp]> = [
    [{ type: 'exec', id: '1', args: [], timeoutMs: 1, uid: 0, gid: 0 }, /Cannot send exec to guest as 'args' must be a non-empty list: got \[\]/],
    [{ type: 'exec', id: 'a b', args: ['x'], timeoutMs: 1, uid: 0, gid: 0 }, /'id' must be 1-64 letters/],
    [{ type: 'exec', id: '1', args: ['x'], timeoutMs: -1, uid: 0, gid: 0 }, /'timeoutMs' must be an integer from 0/],
    [{ type: 'exec', id: '1', args: ['x'], timeoutMs: 1, uid: 0, gid: 0, cwd: 'rel' }, /'cwd' must be an absolute path: got "rel"/],
    [{ type: 'exec', id: '1', args: ['x'], timeoutMs: 1, uid: 0, gid: 0, env: { 'A=B': 'c' } }, /'env' must be names without "="/],
    [{ type: 'signal', id: '1', signal: 0 }, /'signal' must be a signal number from 1 to 64: got 0/],
  ];
  for (const [message, pattern] of cases) {
    assert.throws(() => encodeHostMessage(message), (err: unknown) => isAloftError(err, 'INVALID_ARGUMENT') && pattern.test(err.message));
  }
});

test('guest messages decode, binary exec output included; unknown verbs are marked, not fatal', () => {
  assert.deepEqual(decodeGuestMessage('exit code=143 signal=15'), { type: 'exit', code: 143, signal: 15, oom: false });
  assert.deepEqual(decodeGuestMessage('exit code=137 signal=9 oom=1'), { type: 'exit', code: 137, signal: 9, oom: true });
  assert.deepEqual(decodeGuestMessage('exit code=127 signal=0 oom=0 error=exec%20nope'), { type: 'exit', code: 127, signal: 0, oom: false, error: 'exec nope' });
  const r = decodeGuestMessage('exec_result id=3 code=0 signal=0 timed_out=0 stdout=%00%FFok%0A stderr=');
  assert.equal(r.type, 'exec_result');
  if (r.type === 'exec_result') {
    assert.deepEqual(r.stdout, Buffer.from([0, 0xff, 0x6f, 0x6b, 0x0a]));
    assert.equal(r.stderr.length, 0);
  }
  assert.deepEqual(decodeGuestMessage('error id=9 message=no%20main'), { type: 'error', id: '9', message: 'no main' });
  // Each process is the run of tokens from one pid= to the next.
  assert.deepEqual(decodeGuestMessage('ps_result id=p pid=7 ppid=1 uid=1000 rss_kb=512 cpu_ms=30 cmd=sleep%20600 pid=9 ppid=7 uid=0 rss_kb=0 cpu_ms=0 cmd=%5Bsh%5D'), {
    type: 'ps_result',
    id: 'p',
    processes: [
      { pid: 7, ppid: 1, uid: 1000, rssKb: 512, cpuMs: 30, command: 'sleep 600' },
      { pid: 9, ppid: 7, uid: 0, rssKb: 0, cpuMs: 0, command: '[sh]' },
    ],
  });
  assert.deepEqual(decodeGuestMessage('ps_result id=q'), { type: 'ps_result', id: 'q', processes: [] });
  assert.deepEqual(decodeGuestMessage('later_feature x=1'), { type: 'unknown', verb: 'later_feature' });
  assert.throws(() => decodeGuestMessage('exit code=x signal=0'), (err: unknown) => isAloftError(err, 'GUEST_PROTOCOL') && /'code' must be an integer/.test(err.message));
});

test('the line splitter joins lines cut across chunks and refuses a runaway line', () => {
  const s = new LineSplitter(16);
  assert.deepEqual(s.push(Buffer.from('hello vers')), []);
  assert.deepEqual(s.push(Buffer.from('ion=1\nstarted pid=5\npong')), ['hello version=1', 'started pid=5']);
  assert.deepEqual(s.push(Buffer.from(' id=1\n')), ['pong id=1']);
  assert.throws(() => s.push(Buffer.alloc(20, 0x61)), (err: unknown) => isAloftError(err, 'GUEST_PROTOCOL'));
});
