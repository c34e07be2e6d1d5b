import { GraphQLError, type FormattedExecutionResult, type GraphQLFormattedError } from 'graphql';
import type { AdmittedSubscription } from '../request-context.js';
import type { SubscriptionEvent } from '../subscriptions/engine.js';

/**
 * GraphQLErrors that serialise to errors already formatted by the router.
 * graphql-ws only accepts GraphQLError instances from `onSubscribe` and
 * sends their `toJSON()`; rebuilding real ones from a formatted error would
 * lose its `locations`.
 */
export function asGraphQLErrors(errors: readonly GraphQLFormattedError[]): GraphQLError[] {
  return errors.map((formatted) =>
    Object.assign(new GraphQLError(formatted.message), { toJSON: () => formatted }),
  );
}

/** What a streaming transport passes from `onSubscribe` to its `subscribe` or `execute`. */
export type StreamingOperation =
  /** A query or mutation Apollo already answered. */
  | { kind: 'result'; result: FormattedExecutionResult }
  | { kind: 'subscription'; subscription: AdmittedSubscription };

/**
 * Wraps a client's event iterator from the subscription engine for
 * graphql-ws and graphql-sse: `onEnd` runs exactly once however it ends
 * (upstream completion, the client leaving, an error). With `write`, events
 * go to the client through it and nothing is yielded. Not an async
 * generator: its `return()` would wait for the next event, so a client that
 * hangs up would hold its upstream until then; `throw()` is there because
 * both libraries only end what looks like a generator.
 */
export function clientEvents(
  events: AsyncIterator<SubscriptionEvent>,
  options: {
    onEnd?: () => void;
    write?: (event: SubscriptionEvent) => void;
    /**
     * When it resolves, its event is the client's last: sent after the
     * events before it, then the iterator ends (e.g. the token expired).
     */
    lastEvent?: Promise<SubscriptionEvent>;
  },
): AsyncIterableIterator<SubscriptionEvent> {
  let ended = false;
  let lastSent = false;
  const last = options.lastEvent?.then((event) => ({ last: event }));
  const end = () => {
    if (!ended) options.onEnd?.();
    ended = true;
  };
  const stop = async (): Promise<IteratorResult<SubscriptionEvent>> => {
    end();
    await events.return?.();
    return { done: true, value: undefined };
  };
  return {
    next: async () => {
      for (;;) {
        if (lastSent) return stop();
        let result: IteratorResult<SubscriptionEvent>;
        try {
          const next = events.next();
          const first = last ? await Promise.race([next, last]) : await next;
          if ('last' in first) {
            lastSent = true;
            if (!options.write) return { done: false, value: first.last };
            options.write(first.last);
            return stop();
          }
          result = first;
        } catch (error) {
          end();
          throw error;
        }
        if (result.done) {
          end();
          return result;
        }
        if (!options.write) return result;
        options.write(result.value);
      }
    },
    return: stop,
    throw: stop,
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}
