import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isAloftError } from '../../lib/errors.ts';
import { renderBirdConfig, type BirdConfigSpec } from './bird-config.ts';
import { edgeBirdConfig, EDGE_UPLINKS } from './edge-config.ts';

const edge = {
  routerId: '10.1.0.2',
  localAs: 65000,
  routerAs: 64601,
  ipv4: { local: '10.1.0.2', router: '10.1.0.1' },
  ipv6: { local: 'fd10:0:1::2', router: 'fd10:0:1::1' },
  anycast: { ipv4: '203.0.113.1', ipv6: '2001:db8:a10f::1' },
};

/** bird's own parser (`bird -p`) is the judge of what we write. */
function birdAccepts(config: string): void {
  const dir = mkdtempSync(join(tmpdir(), 'aloft-bird-'));
  try {
    writeFileSync(join(dir, 'bird.conf'), config);
    execFileSync('bird', ['-p', '-c', join(dir, 'bird.conf')], { stdio: 'pipe' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('edgeBirdConfig', () => {
  it('announces the anycast /32 and /128 over two BFD sessions and imports nothing; bird accepts it', () => {
    const text = edgeBirdConfig(edge);
    assert.match(text, /route 203\.0\.113\.1\/32 unreachable;/);
    assert.match(text, /route 2001:db8:a10f::1\/128 unreachable;/);
    for (const name of EDGE_UPLINKS) assert.match(text, new RegExp(`protocol bgp ${name} \\{[^}]*bfd on;[^}]*error wait time 1, 5;`));
    assert.match(text, /neighbor 10\.1\.0\.1 as 64601;/);
    assert.match(text, /min rx interval 50 ms; min tx interval 50 ms; idle tx interval 1000 ms; multiplier 3;/);
    assert.equal(text.match(/import none;/g)?.length, 2);
    assert.match(text, /export where proto = "anycast_v4";/);
    birdAccepts(text);
  });

  it('refuses an IPv6 address where IPv4 belongs, naming the field', () => {
    assert.throws(
      () => edgeBirdConfig({ ...edge, ipv4: { local: 'fd10::2', router: '10.1.0.1' } }),
      (err) => isAloftError(err, 'INVALID_ARGUMENT') && /'sessions\.uplink_v4\.localAddress' must be an IPv4 address: got "fd10::2"/.test(err.message),
    );
  });

  it('refuses an AS number out of range', () => {
    assert.throws(() => edgeBirdConfig({ ...edge, localAs: 0 }), /'sessions\.uplink_v4\.localAs' must be an AS number from 1 to 4294967294: got 0/);
  });
});

describe('renderBirdConfig', () => {
  const base: BirdConfigSpec = {
    routerId: '10.1.0.1',
    kernel: true,
    statics: [{ name: 'region_v4', family: 'ipv4', prefixes: ['10.1.0.0/16'] }],
    sessions: [
      {
        name: 'peer_iad_v4',
        family: 'ipv4',
        localAddress: '10.255.1.1',
        localAs: 64601,
        neighborAddress: '10.255.1.2',
        neighborAs: 64602,
        bfd: true,
        import: { kind: 'all', localPref: 920 },
        exportFrom: ['region_v4'],
      },
    ],
  };

  it('writes kernel export, local preference on import and the export list; bird accepts it', () => {
    const text = renderBirdConfig(base);
    assert.match(text, /protocol kernel kernel_v4 \{\n {2}ipv4 \{ import none; export all; \};/);
    assert.match(text, /import filter \{ bgp_local_pref = 920; accept; \};/);
    assert.match(text, /export where proto = "region_v4";/);
    birdAccepts(text);
  });

  it('refuses an export from a protocol the config does not have (bird would export nothing)', () => {
    const spec = { ...base, sessions: [{ ...base.sessions[0]!, exportFrom: ['nope'] }] };
    assert.throws(() => renderBirdConfig(spec), /'sessions\.peer_iad_v4\.exportFrom' must be names of statics or sessions in this config: got "nope"/);
  });

  it('refuses duplicate protocol names, bad prefixes and a log path bird cannot quote', () => {
    assert.throws(() => renderBirdConfig({ ...base, statics: [...base.statics, base.statics[0]!] }), /must be unique in the config: got "region_v4"/);
    assert.throws(() => renderBirdConfig({ ...base, statics: [{ name: 's', family: 'ipv4', prefixes: ['10.1.0.0/33'] }] }), /'statics\.s' must be IPv4 prefixes/);
    assert.throws(() => renderBirdConfig({ ...base, logFile: '/tmp/a"b' }), /'logFile' must be a path without quotes/);
    assert.throws(() => renderBirdConfig({ ...base, bfd: { intervalMs: 1, multiplier: 3 } }), /'bfd\.intervalMs' must be an integer from 10 to 10000: got 1/);
  });
});
