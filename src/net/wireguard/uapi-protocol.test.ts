import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isAloftError } from '../../lib/errors.ts';
import { checkEndpoint, encodeSet, GET_REQUEST, normalizeCidr, parseGet, replyErrno } from './uapi-protocol.ts';

const KEY_A = Buffer.alloc(32, 0xa1).toString('base64');
const KEY_B = Buffer.alloc(32, 0xb2).toString('base64');
const HEX_A = 'a1'.repeat(32);
const HEX_B = 'b2'.repeat(32);

describe('UAPI text', () => {
  it('encodes a set: device fields, then each peer after its public_key, ending in an empty line', () => {
    const text = encodeSet({
      privateKey: KEY_A,
      listenPort: 51820,
      replacePeers: true,
      peers: [
        { publicKey: KEY_B, endpoint: '10.0.0.2:51820', persistentKeepalive: 25, replaceAllowedIps: true, allowedIps: ['fdaa:0:7:0:2::/80', 'fdaa::2:0:0:0/80'] },
        { publicKey: KEY_A, remove: true, endpoint: 'ignored:1' },
      ],
    });
    assert.equal(
      text,
      [
        'set=1',
        `private_key=${HEX_A}`,
        'listen_port=51820',
        'replace_peers=true',
        `public_key=${HEX_B}`,
        'endpoint=10.0.0.2:51820',
        'persistent_keepalive_interval=25',
        'replace_allowed_ips=true',
        'allowed_ip=fdaa:0:7:0:2::/80',
        'allowed_ip=fdaa::2:0:0:0/80',
        `public_key=${HEX_A}`,
        'remove=true',
        '',
        '',
      ].join('\n'),
    );
    assert.equal(GET_REQUEST, 'get=1\n\n');
  });

  it('refuses a bad field before anything is sent, naming it', () => {
    const cases: [Parameters<typeof encodeSet>[0], RegExp][] = [
      [{ listenPort: 70000 }, /'listenPort' must be an integer from 0 to 65535: got 70000/],
      [{ privateKey: 'nope' }, /'privateKey' must be a WireGuard key/],
      [{ peers: [{ publicKey: KEY_B, endpoint: 'example.com:51820' }] }, /'peers\[0\]\.endpoint' must be an endpoint/],
      [{ peers: [{ publicKey: KEY_B, endpoint: '10.0.0.2' }] }, /'peers\[0\]\.endpoint'/],
      [{ peers: [{ publicKey: KEY_B, allowedIps: ['fdaa::/129'] }] }, /'peers\[0\]\.allowedIps\[0\]' must be an IPv4 or IPv6 CIDR/],
      [{ peers: [{ publicKey: KEY_B, allowedIps: ['10.0.0.1'] }] }, /'peers\[0\]\.allowedIps\[0\]'/],
      [{ peers: [{ publicKey: KEY_B, persistentKeepalive: -1 }] }, /'peers\[0\]\.persistentKeepalive'/],
    ];
    for (const [config, message] of cases) {
      assert.throws(() => encodeSet(config), (err) => isAloftError(err, 'INVALID_ARGUMENT') && message.test(err.message) && err.message.startsWith('Cannot configure WireGuard device'));
    }
  });

  it('parses a get: device fields, peers with endpoint, allowed IPs, keepalive, handshake and bytes', () => {
    const reply = [
      `private_key=${HEX_A}`,
      'listen_port=51820',
      `public_key=${HEX_B}`,
      'preshared_key=' + '0'.repeat(64),
      'protocol_version=1',
      'endpoint=[fd00::2]:51820',
      'last_handshake_time_sec=1700000000',
      'last_handshake_time_nsec=250000000',
      'tx_bytes=92',
      'rx_bytes=180',
      'persistent_keepalive_interval=25',
      'allowed_ip=fdaa:0:7:0:2::/80',
      'allowed_ip=fdaa::2:0:0:0/80',
      `public_key=${HEX_A}`,
      'allowed_ip=10.0.0.0/8',
      'errno=0',
      '',
      '',
    ].join('\n');
    assert.deepEqual(parseGet(reply), {
      hasPrivateKey: true,
      listenPort: 51820,
      peers: [
        { publicKey: KEY_B, endpoint: '[fd00::2]:51820', allowedIps: ['fdaa:0:7:0:2::/80', 'fdaa::2:0:0:0/80'], persistentKeepalive: 25, lastHandshakeMs: 1_700_000_000_250, rxBytes: 180, txBytes: 92 },
        { publicKey: KEY_A, endpoint: undefined, allowedIps: ['10.0.0.0/8'], persistentKeepalive: 0, lastHandshakeMs: 0, rxBytes: 0, txBytes: 0 },
      ],
    });
    assert.deepEqual(parseGet('listen_port=0\nerrno=0\n\n'), { hasPrivateKey: false, listenPort: 0, peers: [] });
  });

  it('reads errno, and turns a failed get or a truncated reply into WIREGUARD_FAILED', () => {
    assert.equal(replyErrno('errno=0\n\n'), 0);
    assert.equal(replyErrno('errno=-22\n\n'), -22);
    assert.throws(() => parseGet('errno=-5\n\n'), (err) => isAloftError(err, 'WIREGUARD_FAILED') && /errno=-5/.test(err.message));
    assert.throws(() => replyErrno('listen_port=1\n'), (err) => isAloftError(err, 'WIREGUARD_FAILED'));
  });

  it('normalises CIDRs and endpoints the way the daemon reports them', () => {
    assert.equal(normalizeCidr('t', 'f', 'FDAA:0000:0007::1/80'), 'fdaa:0:7::/80');
    assert.equal(normalizeCidr('t', 'f', 'fdaa:0:7:0:2:ffff::/79'), 'fdaa:0:7:0:2::/79');
    assert.equal(normalizeCidr('t', 'f', '10.1.2.3/8'), '10.0.0.0/8');
    assert.equal(normalizeCidr('t', 'f', '0.0.0.0/0'), '0.0.0.0/0');
    assert.equal(normalizeCidr('t', 'f', '::/0'), '::/0');
    assert.equal(checkEndpoint('t', 'f', '[FD00:0::2]:51820'), '[fd00::2]:51820');
    assert.equal(checkEndpoint('t', 'f', '10.0.0.2:1'), '10.0.0.2:1');
    assert.throws(() => checkEndpoint('t', 'f', '[10.0.0.2]:1'), (err) => isAloftError(err, 'INVALID_ARGUMENT'));
    assert.throws(() => checkEndpoint('t', 'f', '10.0.0.2:0'), (err) => isAloftError(err, 'INVALID_ARGUMENT'));
  });
});
