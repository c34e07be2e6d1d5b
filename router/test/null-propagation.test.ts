/**
 * Which errors a shaped result lacks: one per null the gateway reported and
 * no error covers, and one for null data with no error at all.
 */
import type { GraphQLFormattedError } from 'graphql';
import { describe, expect, it } from 'vitest';
import { explainNulls, unexplainedNullErrors } from '../src/null-propagation.js';

const nullAt = (path: (string | number)[], field = 'User.handle') => ({
  message: `Cannot return null for non-nullable field ${field}.`,
  path,
  extensions: { code: 'INVALID_GRAPHQL' },
});
const format = (formatted: GraphQLFormattedError) => formatted;

describe('unexplained nulls', () => {
  it('names each reported null with its path and NOT_FOUND', () => {
    const errors = unexplainedNullErrors({
      data: null,
      extensions: { valueCompletion: [nullAt(['a', 0, 'handle']), nullAt(['b', 'handle'])] },
    });
    expect(errors.map((e) => [e.path, e.extensions.code])).toEqual([
      [['a', 0, 'handle'], 'NOT_FOUND'],
      [['b', 'handle'], 'NOT_FOUND'],
    ]);
  });

  it('leaves out a null an error at, above or below its path already explains', () => {
    const result = {
      data: { a: null, b: null, c: null },
      errors: [{ path: ['a'] }, { path: ['b', 0, 'handle', 'x'] }],
      extensions: {
        valueCompletion: [nullAt(['a', 0, 'handle']), nullAt(['b', 0, 'handle']), nullAt(['c'])],
      },
    };
    expect(unexplainedNullErrors(result).map((e) => e.path)).toEqual([['c']]);
  });

  it('calls any other value the gateway could not complete an internal error', () => {
    const [error] = unexplainedNullErrors({
      data: null,
      extensions: {
        valueCompletion: [{ message: 'Invalid value found for field User.age.', path: ['age'] }],
      },
    });
    expect(error?.extensions.code).toBe('INTERNAL_SERVER_ERROR');
  });

  it('adds an error to null data that has none, and nothing to data with none needed', () => {
    expect(unexplainedNullErrors({ data: null }).map((e) => e.extensions.code)).toEqual([
      'INTERNAL_SERVER_ERROR',
    ]);
    expect(unexplainedNullErrors({ data: null, errors: [{ path: ['x'] }] })).toEqual([]);
    expect(unexplainedNullErrors({ data: { x: 1 } })).toEqual([]);
  });

  it('replaces the gateway report with formatted errors and keeps other extensions', () => {
    const result = explainNulls(
      { data: null, extensions: { valueCompletion: [nullAt(['a'])], other: 1 } },
      format,
    );
    expect(result).toEqual({
      data: null,
      errors: [
        {
          message: expect.stringMatching(/^Cannot return null for non-nullable field User\.handle/),
          path: ['a'],
          extensions: { code: 'NOT_FOUND' },
        },
      ],
      extensions: { other: 1 },
    });
    const untouched = { data: { x: 1 } };
    expect(explainNulls(untouched, format)).toBe(untouched);
  });
});
