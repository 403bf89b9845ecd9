import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AloftError, ERROR_CODES, formatValue, invalidField, isAloftError, toAloftError } from './errors.ts';

test('every catalogue entry has a valid HTTP status, a kind and a summary', () => {
  for (const [code, entry] of Object.entries(ERROR_CODES)) {
    assert.match(code, /^[A-Z][A-Z0-9_]+$/, `code ${code} is UPPER_SNAKE`);
    assert.ok(entry.status >= 400 && entry.status < 600, `${code} status ${entry.status}`);
    assert.ok(entry.kind === 'user' || entry.kind === 'system', `${code} kind`);
    assert.ok(entry.summary.length > 0, `${code} summary`);
    if (entry.kind === 'system') assert.ok(entry.status >= 500, `${code}: system errors are 5xx`);
  }
});

test('codes are unique, also ignoring case and separators', () => {
  const normalised = Object.keys(ERROR_CODES).map((c) => c.replace(/_/g, '').toLowerCase());
  assert.equal(new Set(normalised).size, normalised.length);
});

test('AloftError carries code, status and kind from the catalogue', () => {
  const err = new AloftError('MACHINE_NOT_FOUND', 'no machine 123', { cause: new Error('x') });
  assert.equal(err.status, 404);
  assert.equal(err.kind, 'user');
  assert.ok(err.cause instanceof Error);
  assert.equal(isAloftError(err, 'MACHINE_NOT_FOUND'), true);
  assert.equal(isAloftError(err, 'APP_NOT_FOUND'), false);
});

test('invalidField writes the house message: action, field, rule, value', () => {
  const err = invalidField('create machine', 'config.image', 'a non-empty string', '');
  assert.equal(err.message, `Cannot create machine as 'config.image' must be a non-empty string: got ""`);
  assert.equal(err.code, 'INVALID_ARGUMENT');
});

test('formatValue shortens long values and names undefined', () => {
  assert.equal(formatValue(undefined), 'nothing');
  assert.ok(formatValue('x'.repeat(500)).length <= 120);
});

test('toAloftError keeps AloftErrors and wraps the rest', () => {
  const original = new AloftError('APP_EXISTS', 'taken');
  assert.equal(toAloftError(original), original);
  const wrapped = toAloftError(new Error('boom'), 'RUNTIME_FAILED');
  assert.equal(wrapped.code, 'RUNTIME_FAILED');
  assert.equal(wrapped.message, 'boom');
});
