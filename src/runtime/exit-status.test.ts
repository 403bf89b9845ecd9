import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { exitStatusFromCode, requireSignalNumber, signalNumber } from './exit-status.ts';

describe('exit-status', () => {
  it('keeps ordinary exit codes', () => {
    assert.deepEqual(exitStatusFromCode(0), { exitCode: 0, signal: null });
    assert.deepEqual(exitStatusFromCode(3), { exitCode: 3, signal: null });
    assert.deepEqual(exitStatusFromCode(128), { exitCode: 128, signal: null });
  });

  it('reads 128+N as death by signal N', () => {
    assert.deepEqual(exitStatusFromCode(137), { exitCode: null, signal: 'SIGKILL' });
    assert.deepEqual(exitStatusFromCode(143), { exitCode: null, signal: 'SIGTERM' });
    assert.deepEqual(exitStatusFromCode(255), { exitCode: 255, signal: null });
  });

  it('names signals every way people write them', () => {
    assert.equal(signalNumber('SIGTERM'), 15);
    assert.equal(signalNumber('term'), 15);
    assert.equal(signalNumber('9'), 9);
    assert.equal(signalNumber('SIGNOPE'), undefined);
    assert.equal(signalNumber('999'), undefined);
  });

  it('refuses an unknown signal for a machine, naming the field and the value', () => {
    assert.equal(requireSignalNumber('SIGUSR1'), 10);
    assert.throws(() => requireSignalNumber('SIGNOPE'), /Cannot signal machine as 'signal' must be a signal name like SIGTERM: got "?SIGNOPE"?/);
  });
});
