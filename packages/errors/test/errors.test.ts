import { GraphQLError } from 'graphql';
import { describe, expect, it } from 'vitest';
import { ErrorCode, MASKED_MESSAGE, maskError, rateLimited, userError } from '../src/index.js';

describe('errors', () => {
  it('keeps the message and code of an expected failure', () => {
    const error = userError(ErrorCode.CONFLICT, 'That handle is taken.', { field: 'handle' });
    const formatted = maskError(error.toJSON(), error);
    expect(formatted.message).toBe('That handle is taken.');
    expect(formatted.extensions).toMatchObject({ code: 'CONFLICT', field: 'handle' });
  });

  it('masks an unknown error so no internals reach the client', () => {
    const original = new Error('connect ECONNREFUSED 10.0.0.7:5432 select * from users');
    const masked: unknown[] = [];
    const formatted = maskError(
      new GraphQLError(original.message, { originalError: original }).toJSON(),
      original,
      (e) => masked.push(e),
    );
    expect(formatted).toEqual({
      message: MASKED_MESSAGE,
      extensions: { code: 'INTERNAL_SERVER_ERROR' },
    });
    expect(masked).toEqual([original]);
  });

  it('strips stack traces from expected errors', () => {
    const formatted = maskError(
      { message: 'No.', extensions: { code: 'FORBIDDEN', stacktrace: ['at x'] } },
      null,
    );
    expect(formatted.extensions).toEqual({ code: 'FORBIDDEN' });
  });

  it('gives rate limits a whole number of seconds to wait', () => {
    expect(rateLimited(0.2).extensions).toMatchObject({
      code: 'RATE_LIMITED',
      retryAfterSeconds: 1,
    });
  });

  it('lets GraphQL protocol errors through unchanged', () => {
    const formatted = maskError(
      { message: 'Syntax Error: Unexpected "}".', extensions: { code: 'GRAPHQL_PARSE_FAILED' } },
      null,
    );
    expect(formatted.message).toBe('Syntax Error: Unexpected "}".');
  });
});
