import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { commandFailed, execCommand, mustRun, tail } from './command.ts';
import { isAloftError } from './errors.ts';

const NET = { timeoutMs: 5_000, errorCode: 'NETWORK_FAILED' } as const;
const RUNTIME = { timeoutMs: 5_000, errorCode: 'RUNTIME_FAILED' } as const;

describe('execCommand', () => {
  it('reports a non-zero exit as a result, not an error', async () => {
    assert.deepEqual(await execCommand('sh', ['-c', 'echo out; echo err >&2; exit 3'], NET), { code: 3, stdout: 'out\n', stderr: 'err\n' });
  });

  it("raises a missing program as the caller's code", async () => {
    await assert.rejects(execCommand('aloft-no-such-program', [], RUNTIME), (err) => isAloftError(err, 'RUNTIME_FAILED'));
    await assert.rejects(execCommand('aloft-no-such-program', [], NET), (err) => isAloftError(err, 'NETWORK_FAILED'));
  });

  it('kills a command that outlives its timeout and says so', async () => {
    await assert.rejects(
      execCommand('sleep', ['30'], { ...NET, timeoutMs: 50 }),
      (err) => isAloftError(err, 'NETWORK_FAILED') && /`sleep 30`: no answer within 50 ms/.test(err.message),
    );
  });
});

describe('mustRun and commandFailed', () => {
  it("returns stdout on exit 0 and throws the caller's code with command and stderr otherwise", async () => {
    const run = async (_file: string, args: readonly string[]) => ({ code: args[0] === 'ok' ? 0 : 2, stdout: 'yes', stderr: ' no such thing \n' });
    assert.equal(await mustRun(run, 'tool', ['ok'], RUNTIME), 'yes');
    await assert.rejects(mustRun(run, 'tool', ['bad', 'x'], RUNTIME), (err) => {
      assert.ok(isAloftError(err, 'RUNTIME_FAILED'));
      assert.equal(err.message, 'Cannot run `tool bad x`: exit 2: no such thing');
      assert.deepEqual(err.details, { command: ['tool', 'bad', 'x'], exitCode: 2, stderr: 'no such thing' });
      return true;
    });
    assert.equal(commandFailed('ip', ['link'], { code: 1, stdout: '', stderr: 'e' }, 'NETWORK_FAILED').code, 'NETWORK_FAILED');
  });

  it('keeps the end of long output, where programs put the reason', () => {
    assert.equal(tail(`${'x'.repeat(2000)}reason`, 10), '…xxxxreason');
    assert.equal(tail('  short \n'), 'short');
  });
});
