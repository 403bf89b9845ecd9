import type { z } from 'zod';
import { AloftError, formatValue } from '../lib/errors.ts';

/**
 * Parses `input` with `schema`, turning the first zod issue into an INVALID_ARGUMENT
 * error in the house format, naming the full field path and the value found there.
 */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown, action: string, prefix = ''): z.infer<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const path = [prefix, ...issue.path.map(String)].filter((p) => p !== '').join('.') || '(body)';
  const value = valueAt(input, issue.path);
  throw new AloftError('INVALID_ARGUMENT', `Cannot ${action} as '${path}' must be ${describeRule(issue)}: got ${formatValue(value)}`, {
    details: { field: path },
  });
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let current: unknown = input;
  for (const key of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return current;
}

/** Turns a zod issue into the rule half of the message ("a string", "at most 65535"…). */
function describeRule(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'invalid_type':
      return `${article(issue.expected)} ${issue.expected}`;
    case 'too_small':
      return issue.origin === 'string' ? `at least ${String(issue.minimum)} characters long` : `at least ${String(issue.minimum)}`;
    case 'too_big':
      return issue.origin === 'string' ? `at most ${String(issue.maximum)} characters long` : `at most ${String(issue.maximum)}`;
    case 'invalid_value':
      return `one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'invalid_format':
      return issue.message.startsWith('Invalid') ? `a valid ${issue.format}` : issue.message;
    case 'unrecognized_keys':
      return `free of unknown keys (${issue.keys.join(', ')})`;
    default:
      return issue.message.replace(/^Invalid input: /, '').replace(/^expected /, '');
  }
}

function article(word: string): string {
  return /^[aeiou]/.test(word) ? 'an' : 'a';
}
