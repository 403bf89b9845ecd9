import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isAloftError } from '../../lib/errors.ts';
import { AnycastAnnouncer } from './anycast-announcer.ts';
import { Bird } from './bird.ts';
import { edgeAndRouterBirds, linkEdgeAndRouter, removeNamespaces } from './testing/bird-pair.ts';

const ip = (...args: string[]): string => execFileSync('ip', args, { encoding: 'utf8' });

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Polls `check` (a routing change is an event only bird sees) until true or 10 s. */
async function until(what: string, check: () => boolean | Promise<boolean>): Promise<number> {
  const start = Date.now();
  while (!(await check())) {
    if (Date.now() - start > 10_000) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return Date.now() - start;
}

describe('Bird and AnycastAnnouncer (real bird2 in two namespaces)', () => {
  const tag = randomBytes(3).toString('hex');
  const edgeNs = `abt-${tag}-edge`;
  const routerNs = `abt-${tag}-rtr`;
  const birds: Bird[] = [];
  let dir = '';

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'aloft-bird-'));
    linkEdgeAndRouter(edgeNs, routerNs);
  });

  after(async () => {
    for (const bird of birds) await bird.stop();
    removeNamespaces(edgeNs, routerNs);
    await rm(dir, { recursive: true, force: true });
  });

  const routerRoute = (): string => ip('-n', routerNs, 'route', 'show', '203.0.113.1/32');
  const routerRoute6 = (): string => ip('-n', routerNs, '-6', 'route', 'show', '2001:db8:a10f::1/128');

  it('announces the anycast addresses to the router, withdraws and announces them again', async () => {
    const { edge, router } = edgeAndRouterBirds(dir, edgeNs, routerNs);
    birds.push(edge, router);
    await edge.start();
    await router.start();
    assert.ok(edge.pid !== undefined && alive(edge.pid));
    const announcer = new AnycastAnnouncer(edge.client);
    await until('the sessions to establish', () => announcer.announcing());
    await until('the routes to reach the router', () => routerRoute().includes('via 10.1.0.2') && routerRoute6().includes('via fd10:0:1::2'));

    await announcer.withdraw();
    const withdrawMs = await until('the withdrawal', () => routerRoute() === '' && routerRoute6() === '');
    assert.equal(await announcer.announcing(), false);
    // A Cease goes at once: no hold timer, no BFD.
    assert.ok(withdrawMs < 1000, `withdrawn in ${withdrawMs} ms`);

    await announcer.announce();
    await until('the announcement again', () => routerRoute().includes('via 10.1.0.2'));
  });

  it('stops bird by PID and removes its socket', async () => {
    const edge = birds[0]!;
    const pid = edge.pid!;
    await edge.stop();
    assert.equal(alive(pid) && !execFileSync('ps', ['-o', 'stat=', '-p', String(pid)], { encoding: 'utf8' }).startsWith('Z'), false);
    assert.equal(await edge.client.ping(), false);
  });

  it('refuses a config bird rejects, with bird\'s message, and leaves nothing running', async () => {
    const bad = new Bird({ netns: edgeNs, socketPath: join(dir, 'bad.ctl'), configPath: join(dir, 'bad.conf'), config: 'router id 10.1.0.2;\nprotocol bogus {}\n' });
    await assert.rejects(bad.start(), (err) => isAloftError(err, 'BIRD_FAILED') && /bad\.conf/.test(err.message));
    assert.equal(bad.pid, undefined);
  });
});
