/**
 * What graphql-ws and SSE share: client event iterators that end once
 * however they end, and formatted errors graphql-ws can send as they are.
 */
import { describe, expect, it } from 'vitest';
import type { SubscriptionEvent } from '../src/subscriptions/engine.js';
import { asGraphQLErrors, clientEvents } from '../src/transports/streaming.js';

/** An engine-like iterator over `events`, then done (or failing with `error`), noting its return. */
function source(events: SubscriptionEvent[], error?: Error) {
  let returned = 0;
  const iterator: AsyncIterator<SubscriptionEvent> = {
    next: () => {
      const value = events.shift();
      if (value) return Promise.resolve({ done: false, value });
      return error ? Promise.reject(error) : Promise.resolve({ done: true, value: undefined });
    },
    return: () => {
      returned++;
      return Promise.resolve({ done: true, value: undefined });
    },
  };
  return { iterator, returned: () => returned };
}

describe('client event iterators', () => {
  it('yield the events, then end once when the upstream ends', async () => {
    let ended = 0;
    const { iterator } = source([{ data: { n: 1 } }, { data: { n: 2 } }]);
    const events = clientEvents(iterator, { onEnd: () => ended++ });
    const seen: SubscriptionEvent[] = [];
    for await (const event of events) seen.push(event);
    expect(seen).toEqual([{ data: { n: 1 } }, { data: { n: 2 } }]);
    await events.return!();
    expect(ended).toBe(1);
  });

  it('end once and release the upstream when the client leaves, or on an error', async () => {
    let ended = 0;
    const left = source([{ data: {} }]);
    const events = clientEvents(left.iterator, { onEnd: () => ended++ });
    await events.return!();
    await events.throw!();
    expect([ended, left.returned()]).toEqual([1, 2]);

    const failing = clientEvents(source([], new Error('upstream broke')).iterator, {
      onEnd: () => ended++,
    });
    await expect(failing.next()).rejects.toThrow('upstream broke');
    expect(ended).toBe(2);
  });

  it('hand every event to `write` and yield nothing when given one', async () => {
    const written: SubscriptionEvent[] = [];
    const { iterator } = source([{ data: { n: 1 } }, { data: { n: 2 } }]);
    const events = clientEvents(iterator, { write: (event) => written.push(event) });
    expect(await events.next()).toEqual({ done: true, value: undefined });
    expect(written).toEqual([{ data: { n: 1 } }, { data: { n: 2 } }]);
  });
});

describe('formatted errors for graphql-ws', () => {
  it('serialise exactly as formatted, locations included', () => {
    const formatted = {
      message: 'Cannot query field "nope" on type "Note".',
      locations: [{ line: 1, column: 20 }],
      extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
    };
    const [error] = asGraphQLErrors([formatted]);
    expect(error!.message).toBe(formatted.message);
    expect(JSON.parse(JSON.stringify([error]))).toEqual([formatted]);
  });
});
