import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { CommandRunner } from '../../lib/command.ts';
import { isAloftError } from '../../lib/errors.ts';
import { BirdClient, parseProtocols } from './birdc.ts';

// Verbatim from bird 2.0.12 (`birdc -s SOCK show protocols`).
const SHOW_PROTOCOLS = `BIRD 2.0.12 ready.
Name       Proto      Table      State  Since         Info
device1    Device     ---        up     12:52:22.185  
uplink_v4  BGP        ---        up     12:52:23.101  Established   
uplink_v6  BGP        ---        start  12:52:24.500  Idle          Received: Administrative shutdown
`;

describe('parseProtocols', () => {
  it('reads rows by the header columns, info with spaces kept', () => {
    const rows = parseProtocols(SHOW_PROTOCOLS);
    assert.equal(rows.length, 3);
    assert.deepEqual(rows[1], { name: 'uplink_v4', proto: 'BGP', table: '---', state: 'up', since: '12:52:23.101', info: 'Established' });
    assert.equal(rows[2]!.info, 'Idle          Received: Administrative shutdown');
  });

  it('reads nothing from output without a header', () => {
    assert.deepEqual(parseProtocols('BIRD 2.0.12 ready.\n'), []);
  });
});

describe('BirdClient', () => {
  const calls: string[][] = [];
  const fake =
    (stdout: string, code = 0): CommandRunner =>
    async (file, args) => {
      calls.push([file, ...args]);
      return { code, stdout, stderr: '' };
    };

  it('disables a protocol through its own socket and accepts bird\'s confirmation', async () => {
    await new BirdClient('/run/x/edge.ctl', fake('BIRD 2.0.12 ready.\nuplink_v4: disabled\n')).disable('uplink_v4');
    assert.deepEqual(calls.at(-1), ['birdc', '-s', '/run/x/edge.ctl', 'disable', 'uplink_v4']);
  });

  it('turns a refused command into BIRD_FAILED with bird\'s words', async () => {
    const client = new BirdClient('/run/x/edge.ctl', fake('BIRD 2.0.12 ready.\nsyntax error, unexpected CF_SYM_UNDEFINED\n', 1));
    await assert.rejects(client.enable('nope'), (err) => isAloftError(err, 'BIRD_FAILED') && /syntax error/.test(err.message));
  });

  it('refuses a protocol name birdc would read as syntax, before running anything', async () => {
    const before = calls.length;
    await assert.rejects(new BirdClient('/run/x/edge.ctl', fake('')).disable('all; x'), /'protocol' must be a bird protocol name: got "all; x"/);
    assert.equal(calls.length, before);
  });

  it('refuses a relative socket path', () => {
    assert.throws(() => new BirdClient('edge.ctl'), /'socketPath' must be an absolute path: got "edge.ctl"/);
  });
});
