import assert from 'node:assert/strict';
import { describe } from 'node:test';
import type { ApiToken } from '../auth-store.ts';
import { rejectsWith, storeTest, type OpenStore } from './helpers.ts';

let counter = 0;

function sampleToken(overrides: Partial<ApiToken> = {}): ApiToken {
  counter += 1;
  return { id: `tok-${counter}`, name: `token ${counter}`, orgSlug: 'personal', readOnly: false, hash: `${counter}`.padStart(64, 'a'), createdAt: counter, ...overrides };
}

/** Orgs and tokens: the seeded `personal` org, unique slugs, hashed tokens, revocation. */
export function authContract(open: OpenStore): void {
  describe('orgs and tokens', () => {
    storeTest(open, 'a fresh store has the org "personal"; orgs are created once and listed by slug', async (store) => {
      assert.equal((await store.getOrg('personal'))?.slug, 'personal');
      await store.createOrg({ slug: 'acme', name: 'Acme', createdAt: 5 });
      await rejectsWith(store.createOrg({ slug: 'acme', name: 'Other', createdAt: 6 }), 'ORG_EXISTS');
      assert.deepEqual((await store.listOrgs()).map((o) => o.slug), ['acme', 'personal']);
      assert.deepEqual(await store.getOrg('acme'), { slug: 'acme', name: 'Acme', createdAt: 5 });
      assert.equal(await store.getOrg('nope'), undefined);
    });

    storeTest(open, 'tokens are found by hash, keep their scope, and need an existing org', async (store) => {
      const token = sampleToken({ appName: 'web', readOnly: true });
      assert.deepEqual(await store.createToken(token), token);
      assert.deepEqual(await store.findTokenByHash(token.hash), token);
      assert.equal(await store.findTokenByHash('f'.repeat(64)), undefined);
      await rejectsWith(store.createToken(sampleToken({ orgSlug: 'nope' })), 'ORG_NOT_FOUND');
      await rejectsWith(store.createToken(sampleToken({ hash: token.hash })), 'STORE_CONFLICT');
    });

    storeTest(open, 'tokens list oldest first, optionally by org', async (store) => {
      await store.createOrg({ slug: 'acme', name: 'Acme', createdAt: 1 });
      const a = await store.createToken(sampleToken());
      const b = await store.createToken(sampleToken({ orgSlug: 'acme' }));
      assert.deepEqual((await store.listTokens()).map((t) => t.id), [a.id, b.id]);
      assert.deepEqual((await store.listTokens({ orgSlug: 'acme' })).map((t) => t.id), [b.id]);
    });

    storeTest(open, 'revoking marks the token once; unknown ids are TOKEN_NOT_FOUND', async (store) => {
      const token = await store.createToken(sampleToken());
      assert.equal((await store.revokeToken(token.id, 100)).revokedAt, 100);
      assert.equal((await store.revokeToken(token.id, 200)).revokedAt, 100);
      assert.equal((await store.findTokenByHash(token.hash))?.revokedAt, 100);
      await rejectsWith(store.revokeToken('nope', 1), 'TOKEN_NOT_FOUND');
    });
  });
}
