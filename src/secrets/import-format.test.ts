import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isAloftError } from '../lib/errors.ts';
import { parseSecretsImport } from './import-format.ts';

describe('aloft secrets import: the NAME=VALUE format of fly secrets import', () => {
  test('lines, comments, blank lines, spaces around the name, quotes and later-wins, as flyctl reads them', () => {
    const text = ['# a comment', '', 'A=1', '  B = two words  ', 'C="quoted value"', 'D=a=b=c', 'E="', 'F=', 'A=again', '   ', '#X=not read', 'G=x # not a comment', 'H=\'single\''].join('\n');
    assert.deepEqual(parseSecretsImport(text), { A: 'again', B: 'two words  ', C: 'quoted value', D: 'a=b=c', E: '"', F: '', G: 'x # not a comment', H: "'single'" });
  });

  test('a value starting with """ runs over lines until one ending in """, newlines kept', () => {
    const pem = ['KEY="""-----BEGIN KEY-----', 'abc', 'def', '-----END KEY-----"""', 'AFTER=1'].join('\n');
    assert.deepEqual(parseSecretsImport(pem), { KEY: '-----BEGIN KEY-----\nabc\ndef\n-----END KEY-----', AFTER: '1' });
    assert.deepEqual(parseSecretsImport('M="""\nline\n"""\n'), { M: '\nline\n' });
    assert.deepEqual(parseSecretsImport('W=1\r\nX="""a\r\n# kept\r\n"""\r\n'), { W: '1', X: 'a\n# kept\n' }, 'CRLF input and a # line inside a value');
  });

  test('a line without "=" or an unclosed multi-line value is SECRET_INVALID, naming the line but not its text', () => {
    assert.throws(() => parseSecretsImport('A=1\nhunter2\n'), (err: unknown) => isAloftError(err, 'SECRET_INVALID') && /line 2 must be NAME=VALUE/.test(err.message) && !err.message.includes('hunter2'));
    assert.throws(() => parseSecretsImport('A=1\nK="""hunter2\nmore\n'), (err: unknown) => isAloftError(err, 'SECRET_INVALID') && /K \(from line 2\)/.test(err.message) && !err.message.includes('hunter2'));
  });
});
