import assert from 'node:assert/strict';
import { test } from 'node:test';
import { IgnoreRules } from './ignore-rules.ts';

test('patterns match whole relative paths, as Docker reads .dockerignore', () => {
  const rules = new IgnoreRules('# comment\n\n*.log\n/tmp/\ndocs\n');
  assert.equal(rules.ignores('debug.log'), true);
  assert.equal(rules.ignores('sub/debug.log'), false, '"*" does not cross "/" (unlike .gitignore)');
  assert.equal(rules.ignores('tmp'), true, 'leading and trailing "/" are dropped');
  assert.equal(rules.ignores('tmp/a/b.txt'), true, 'a left-out directory leaves out what is below it');
  assert.equal(rules.ignores('docs/guide.md'), true);
  assert.equal(rules.ignores('server.js'), false);
  assert.equal(rules.hasExceptions, false);
});

test('"**" spans directories, "?" one character, "[…]" a class', () => {
  const rules = new IgnoreRules('**/*.map\nsrc/**/test\nfile?.txt\n[ab].js\n');
  assert.equal(rules.ignores('a.map'), true, '"**/" may match no directory');
  assert.equal(rules.ignores('dist/deep/x.map'), true);
  assert.equal(rules.ignores('src/test/x.js'), true);
  assert.equal(rules.ignores('src/a/b/test'), true);
  assert.equal(rules.ignores('file1.txt'), true);
  assert.equal(rules.ignores('file10.txt'), false);
  assert.equal(rules.ignores('a.js'), true);
  assert.equal(rules.ignores('c.js'), false);
});

test('"!" re-includes, and the last matching line wins', () => {
  const rules = new IgnoreRules('*.md\n!README.md\nREADME.md\n!docs/keep.md\ndocs\n!docs/keep.md\n');
  assert.equal(rules.ignores('CHANGES.md'), true);
  assert.equal(rules.ignores('README.md'), true, 'ignored again by a later line');
  assert.equal(rules.ignores('docs/other.txt'), true);
  assert.equal(rules.ignores('docs/keep.md'), false);
  assert.equal(rules.hasExceptions, true);
});

test('regex characters in names are literal', () => {
  const rules = new IgnoreRules('a+b(1).txt\n');
  assert.equal(rules.ignores('a+b(1).txt'), true);
  assert.equal(rules.ignores('aab1.txt'), false);
});
