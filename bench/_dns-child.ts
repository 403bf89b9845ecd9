/**
 * The aloft side of bench/_dns-vs-knot.ts: the private DNS server on a store file, no
 * forwarding and no per-source rate limit (Knot has none either, and dnsperf sends
 * from one address). Prints "is up" once it listens; stops on SIGTERM.
 */
import { startDnsServer } from '../src/dns/index.ts';
import { openSqliteStore } from '../src/store/index.ts';

const [dbPath, port] = process.argv.slice(2);
const store = await openSqliteStore({ path: dbPath! });
const dns = await startDnsServer({ store, host: '::1', port: Number(port), region: 'ams', upstream: null, rateLimit: false });
console.log(`aloft dns is up on [::1]:${dns.port}`);
process.on('SIGTERM', () => void dns.close().then(() => store.close()).then(() => process.exit(0)));
