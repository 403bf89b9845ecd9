/**
 * Small programs the lab runs with `node -e` inside namespaces: plain JavaScript, so
 * they start in ~50 ms without tsx and need nothing from the repository.
 */

/**
 * The delay relay (the internet namespace's one process for all backbone links). argv[1]
 * is JSON: `[{ relayA, relayB, socatA, socatB, delayMs }]`. socat A sends each frame from
 * TAP A to `relayA`; after `delayMs` it leaves `relayB` for socat B (which writes it into
 * TAP B), and the same the other way. One timer per frame keeps order (equal delays).
 */
export const DELAY_RELAY = `
const dgram = require('node:dgram');
const links = JSON.parse(process.argv[1]);
let bound = 0;
for (const l of links) {
  const a = dgram.createSocket('udp4');
  const b = dgram.createSocket('udp4');
  const pass = (to, port) => (msg) => setTimeout(() => to.send(msg, port, '127.0.0.1'), l.delayMs);
  a.on('message', pass(b, l.socatB));
  b.on('message', pass(a, l.socatA));
  for (const [s, port] of [[a, l.relayA], [b, l.relayB]]) {
    s.on('error', (e) => { console.error('relay', port, e.message); process.exit(1); });
    s.bind(port, '127.0.0.1', () => { if (++bound === links.length * 2) console.log('relay ready'); });
  }
}
process.on('SIGTERM', () => process.exit(0));
`;

/**
 * An edge's stand-in for the proxy: answers HTTP with its region as JSON (port 80, or
 * argv[2] when the edge's real proxy holds 80), and UDP on port 7 with "<region>
 * <payload>" (so a client can count which edge answered each probe). argv[1] is the region.
 */
export const EDGE_RESPONDER = `
const http = require('node:http');
const dgram = require('node:dgram');
const region = process.argv[1];
http.createServer((req, res) => {
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ region, edge: region + '-edge', url: req.url }) + '\\n');
}).listen({ port: Number(process.argv[2] ?? 80), host: '::', ipv6Only: false }, () => console.log('http ready'));
for (const type of ['udp4', 'udp6']) {
  const s = dgram.createSocket({ type, ipv6Only: type === 'udp6' });
  s.on('message', (msg, from) => s.send(region + ' ' + msg, from.port, from.address));
  s.bind(7, type === 'udp4' ? '0.0.0.0' : '::');
}
process.on('SIGTERM', () => process.exit(0));
`;

/**
 * A failover probe run in a client namespace: sends a UDP datagram to the anycast
 * address every `intervalMs` for `durationMs`, and prints one JSON line per probe
 * ({ seq, sentMs, region | null }) once done. argv: address, intervalMs, durationMs.
 * Send times are ms since the epoch, so the caller can line them up with a fault.
 */
export const FAILOVER_PROBE = `
const dgram = require('node:dgram');
const [address, intervalMs, durationMs] = process.argv.slice(1);
const s = dgram.createSocket(address.includes(':') ? 'udp6' : 'udp4');
const sent = [];
s.on('message', (msg) => {
  const [region, seq] = String(msg).split(' ');
  const p = sent[Number(seq)];
  if (p && p.region === null) p.region = region;
});
let seq = 0;
const start = Date.now();
const timer = setInterval(() => {
  if (Date.now() - start > Number(durationMs)) {
    clearInterval(timer);
    // Late answers (a far edge is up to a few hundred ms away) still count.
    setTimeout(() => { process.stdout.write(sent.map((p) => JSON.stringify(p)).join('\\n') + '\\n'); process.exit(0); }, 600);
    return;
  }
  sent.push({ seq, sentMs: Date.now(), region: null });
  s.send(String(seq++), 7, address);
}, Number(intervalMs));
console.error('probe started');
`;

/**
 * Round-trip probe: sends `count` UDP datagrams one after another to `address` port 7
 * (an edge's responder) and prints the RTTs in ms as a JSON array. argv: address, count.
 */
export const RTT_PROBE = `
const dgram = require('node:dgram');
const [address, count] = process.argv.slice(1);
const s = dgram.createSocket(address.includes(':') ? 'udp6' : 'udp4');
const rtts = [];
let sentAt = 0;
const next = () => {
  if (rtts.length === Number(count)) { console.log(JSON.stringify(rtts)); process.exit(0); }
  sentAt = performance.now();
  s.send('rtt', 7, address);
};
s.on('message', () => { rtts.push(performance.now() - sentAt); next(); });
setTimeout(() => { console.log(JSON.stringify(rtts)); process.exit(0); }, 10000);
next();
`;
