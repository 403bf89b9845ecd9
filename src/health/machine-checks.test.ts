import assert from 'node:assert/strict';
import { test } from 'node:test';
import { machineChecksOf } from './machine-checks.ts';

test("a Machine's checks: top-level ones by name (sorted), then service checks numbered across services", () => {
  const checks = machineChecksOf({
    image: 'x',
    checks: { zeta: { type: 'tcp', port: 5432 }, alpha: { type: 'http', port: 8080, path: 'health', interval: '5s', grace_period: '10s' } },
    services: [
      { protocol: 'tcp', internal_port: 8080, checks: [{ type: 'http', path: '/' }, { type: 'tcp' }] },
      { protocol: 'tcp', internal_port: 9000, tcp_checks: [{ interval: '1s' }], http_checks: [{ path: '/ready', port: 9001 }] },
    ],
  });
  assert.deepEqual(
    checks.map((c) => [c.name, c.spec.type, c.spec.port, c.spec.path, c.spec.intervalMs, c.spec.gracePeriodMs]),
    [
      ['alpha', 'http', 8080, '/health', 5000, 10_000],
      ['zeta', 'tcp', 5432, '/', 15_000, 0],
      ['servicecheck-00-http-8080', 'http', 8080, '/', 15_000, 0],
      ['servicecheck-01-tcp-8080', 'tcp', 8080, '/', 15_000, 0],
      ['servicecheck-02-tcp-9000', 'tcp', 9000, '/', 1000, 0],
      ['servicecheck-03-http-9001', 'http', 9001, '/ready', 15_000, 0],
    ],
  );
});

test('a top-level check without a port uses the first service port, and with no service it cannot run', () => {
  assert.equal(machineChecksOf({ image: 'x', checks: { a: { type: 'tcp' } }, services: [{ protocol: 'tcp', internal_port: 3000 }] })[0]!.spec.port, 3000);
  const [lonely] = machineChecksOf({ image: 'x', checks: { a: { type: 'tcp' } } });
  assert.match(lonely!.invalid ?? '', /Cannot run check 'a' as 'checks.a.port' must be a port number: got nothing/);
  assert.deepEqual(machineChecksOf({ image: 'x' }), []);
});
