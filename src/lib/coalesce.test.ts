import assert from 'node:assert/strict';
import { test } from 'node:test';
import { coalesce } from './coalesce.ts';

test('calls during a run fold into one more run after it; runs never overlap', async () => {
  let active = 0;
  let runs = 0;
  let release!: () => void;
  const refresh = coalesce(async () => {
    active += 1;
    assert.equal(active, 1, 'never two at once');
    runs += 1;
    if (runs === 1) await new Promise<void>((resolve) => (release = resolve));
    active -= 1;
  });
  const first = refresh();
  const during = [refresh(), refresh(), refresh()];
  release();
  await Promise.all([first, ...during]);
  assert.equal(runs, 2, 'the first, and one more for the three calls made during it');
  await refresh();
  assert.equal(runs, 3, 'a call after it has settled runs again');
});

test('a failed run rejects its callers, and the next call runs afresh', async () => {
  let fail = true;
  const refresh = coalesce(async () => {
    if (fail) throw new Error('store away');
  });
  await assert.rejects(refresh(), /store away/);
  await refresh.settled();
  fail = false;
  await refresh();
});
