/**
 * The one context builder every transport uses: the caller on the context
 * and on the record, the request id, the caller header signed per subgraph request.
 */
import { describe, expect, it } from 'vitest';
import { ANONYMOUS, type Caller } from '@arcadia/auth';
import {
  createContextBuilder,
  newRequestRecord,
  recordSentOperationName,
} from '../src/request-context.js';

const alice: Caller = { userId: 'u1', roles: ['USER'], scopes: [] };

describe('the context builder', () => {
  it("builds an operation's context from its caller and record", () => {
    const build = createContextBuilder(() => Promise.resolve('signed'));
    const record = newRequestRecord('req-1', 'ws');
    const context = build(alice, record);
    expect(context).toMatchObject({ caller: alice, requestId: 'req-1', record });
    expect(record.caller).toBe(alice);
    expect(record.transport).toBe('ws');
    // Plain HTTP cannot stream: no slot for an admitted subscription.
    expect('stream' in context).toBe(false);
    const stream = {};
    expect(build(ANONYMOUS, newRequestRecord('req-2'), stream).stream).toBe(stream);
  });

  it('signs the caller header for each subgraph request, bound to it', async () => {
    const signed: unknown[] = [];
    const build = createContextBuilder((caller, binding) => {
      signed.push([caller, binding]);
      return Promise.resolve(`header-${signed.length}`);
    });
    const context = build(alice, newRequestRecord('req-3'));
    expect(signed).toEqual([]);
    const toChat = { audience: 'chat', request: { query: '{ a }' } };
    const toMedia = { audience: 'media', request: { query: '{ b }' } };
    expect(await context.signedCaller(toChat)).toBe('header-1');
    expect(await context.signedCaller(toMedia)).toBe('header-2');
    expect(signed).toEqual([
      [alice, toChat],
      [alice, toMedia],
    ]);
  });
});

describe('the operation name a client sent', () => {
  it('is recorded when it is a GraphQL name, and ignored otherwise', () => {
    const record = newRequestRecord('req-5');
    recordSentOperationName(record, 'not a name!');
    recordSentOperationName(record, 42);
    expect(record.operationName).toBeNull();
    recordSentOperationName(record, 'GetNotes');
    expect(record.operationName).toBe('GetNotes');
  });
});
