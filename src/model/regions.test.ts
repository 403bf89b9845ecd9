import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isAloftError } from '../lib/errors.ts';
import { findRegion, parseRegionList, REGION_GROUPS, REGIONS, requireRegion, suggestRegion } from './regions.ts';

describe('the regions catalogue', () => {
  test('codes are unique, lowercase, three letters (but aloft’s "local"), each in a known group', () => {
    const codes = REGIONS.map((r) => r.code);
    assert.equal(new Set(codes).size, codes.length);
    for (const r of REGIONS) {
      assert.match(r.code, r.code === 'local' ? /^local$/ : /^[a-z]{3}$/);
      assert.ok(r.group in REGION_GROUPS, `${r.code}: group ${r.group}`);
      assert.ok(r.name.length > 0);
    }
  });

  test('the eu flag marks EU member states only: London is Europe but not EU', () => {
    assert.deepEqual(REGIONS.filter((r) => r.eu).map((r) => r.code).sort(), ['ams', 'arn', 'cdg', 'fra', 'mad', 'otp', 'waw']);
    assert.equal(findRegion('lhr')?.group, 'europe');
    assert.equal(findRegion('lhr')?.eu, false);
    assert.ok(REGIONS.filter((r) => r.eu).every((r) => r.group === 'europe'));
  });

  test('every region PLATFORM.md names is in it', () => {
    for (const code of 'ams arn bom cdg dfw ewr fra gru iad jnb lax lhr nrt ord sin sjc syd yyz'.split(' ')) assert.ok(findRegion(code), code);
  });

  test('requireRegion: a known code (any case) passes; an unknown one is REGION_UNKNOWN naming it, with a did-you-mean', () => {
    assert.equal(requireRegion('FRA', 'scale count').code, 'fra');
    assert.throws(
      () => requireRegion('fr', 'scale count'),
      (err: unknown) =>
        isAloftError(err, 'REGION_UNKNOWN') &&
        err.message === `Cannot scale count as 'region' must be a region code from 'aloft regions list': got "fr"; did you mean "fra" (Frankfurt, Germany)?` &&
        err.details?.['suggestion'] === 'fra',
    );
    assert.throws(() => requireRegion('zzzzzz', 'create volume'), /got "zzzzzz"$/);
  });

  test('suggestions: by city name first, then by spelling', () => {
    assert.equal(suggestRegion('tokyo')?.code, 'nrt');
    assert.equal(suggestRegion('Sydney')?.code, 'syd');
    assert.equal(suggestRegion('iadd')?.code, 'iad');
    assert.equal(suggestRegion('lcoal')?.code, 'local');
    assert.equal(suggestRegion('qqq'), undefined);
  });

  test('parseRegionList: commas or repeats, trimmed, duplicates dropped, order kept, each checked', () => {
    assert.deepEqual(parseRegionList(['ams, fra', 'ams', 'iad'], 'scale').map((r) => r.code), ['ams', 'fra', 'iad']);
    assert.throws(() => parseRegionList('ams,xyz', 'scale count', 'regions'), /'regions' must be a region code.*got "xyz"/);
  });
});
