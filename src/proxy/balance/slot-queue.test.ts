import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ManualClock } from '../../lib/clock.ts';
import { ClientGone } from '../client-gone.ts';
import { SlotQueue } from './slot-queue.ts';

test('waiters are woken one at a time, first come first served', async () => {
  const clock = new ManualClock(0);
  const queue = new SlotQueue({ maxLength: 10, maxWaitMs: 1000 }, clock);
  const order: string[] = [];
  const a = queue.wait('app', 1000, new ClientGone(), queue.ticket()).then((how) => order.push(`a:${how}`));
  const b = queue.wait('app', 1000, new ClientGone(), queue.ticket()).then((how) => order.push(`b:${how}`));
  assert.equal(queue.length('app'), 2);
  queue.wake('other');
  queue.wake('app');
  await a;
  assert.deepEqual(order, ['a:woken']);
  queue.wake('app');
  await b;
  assert.deepEqual(order, ['a:woken', 'b:woken']);
  assert.equal(queue.length('app'), 0);
});

test('a full queue refuses at once; a waiter times out at its deadline; a gone client leaves', async () => {
  const clock = new ManualClock(0);
  const queue = new SlotQueue({ maxLength: 2, maxWaitMs: 500 }, clock);
  const gone = new ClientGone();
  const first = queue.wait('app', 500, new ClientGone(), queue.ticket());
  const second = queue.wait('app', 500, gone, queue.ticket());
  assert.equal(await queue.wait('app', 500, new ClientGone(), queue.ticket()), 'full');
  gone.fire();
  assert.equal(await second, 'gone');
  clock.advance(499);
  assert.equal(queue.length('app'), 1);
  clock.advance(1);
  assert.equal(await first, 'timeout');
  assert.equal(await queue.wait('app', 500, new ClientGone(), queue.ticket()), 'timeout');
});

test('a waiter that waits again keeps its place in line, and close() ends every wait', async () => {
  const clock = new ManualClock(0);
  const queue = new SlotQueue({ maxLength: 1, maxWaitMs: 1000 }, clock);
  const t1 = queue.ticket();
  const t2 = queue.ticket();
  const later = queue.wait('app', 1000, new ClientGone(), t2);
  // Waiting again is never refused for length, and goes before the later ticket.
  const earlier = queue.wait('app', 1000, new ClientGone(), t1, true);
  queue.wake('app');
  assert.equal(await earlier, 'woken');
  queue.close();
  assert.equal(await later, 'closed');
  assert.equal(await queue.wait('app', 1000, new ClientGone(), queue.ticket()), 'closed');
});
