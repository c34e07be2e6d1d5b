/**
 * The one context builder every transport uses: the caller on the context
 * and on the record, the request id, the caller header signed lazily once.
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

  it('signs the caller header on first use only, once per operation', async () => {
    const signed: Caller[] = [];
    const build = createContextBuilder((caller) => {
      signed.push(caller);
      return Promise.resolve(`header-${signed.length}`);
    });
    const context = build(alice, newRequestRecord('req-3'));
    expect(signed).toEqual([]);
    expect(await context.signedCaller()).toBe('header-1');
    expect(await context.signedCaller()).toBe('header-1');
    expect(await build(alice, newRequestRecord('req-4')).signedCaller()).toBe('header-2');
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
