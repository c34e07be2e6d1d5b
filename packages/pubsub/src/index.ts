import { RedisPubSub } from 'graphql-redis-subscriptions';
import { Redis } from 'ioredis';

/**
 * A PubSub whose triggers and payloads are typed by `Events`, backed by
 * Redis so that an event published by any instance reaches subscribers on
 * every instance.
 */
export interface TypedPubSub<Events extends Record<string, unknown>> {
  publish<K extends keyof Events & string>(trigger: K, payload: Events[K]): Promise<void>;
  /** An async iterator of the payloads published on `trigger`. */
  subscribe<K extends keyof Events & string>(trigger: K | K[]): AsyncIterableIterator<Events[K]>;
  /** Closes both Redis connections. */
  close(): Promise<void>;
}

/**
 * Creates a Redis-backed PubSub. `prefix` namespaces every channel, so tests
 * (and several deployments on one Redis) never hear each other's events.
 */
export function createPubSub<Events extends Record<string, unknown>>(options: {
  redisUrl: string;
  prefix: string;
}): TypedPubSub<Events> {
  const connect = () =>
    new Redis(options.redisUrl, { maxRetriesPerRequest: null, lazyConnect: false });
  const publisher = connect();
  const subscriber = connect();
  const pubsub = new RedisPubSub({ publisher, subscriber });
  const channel = (trigger: string) => `${options.prefix}:${trigger}`;
  return {
    async publish(trigger, payload) {
      await pubsub.publish(channel(trigger), payload);
    },
    subscribe(trigger) {
      const triggers = (Array.isArray(trigger) ? trigger : [trigger]).map(channel);
      return pubsub.asyncIterableIterator(triggers) as AsyncIterableIterator<never>;
    },
    async close() {
      await pubsub.close();
    },
  };
}

/**
 * Passes on only the events `keep` accepts: a subscription resolver re-checks
 * per event what can change while a client is subscribed (is the caller still
 * a member of the conversation?). Deliberately not an async generator: a
 * generator's `return()` waits for its pending `next()`, so an unsubscribing
 * client would hold its Redis subscription until the next event.
 */
export function filterEvents<T>(
  source: AsyncIterableIterator<T>,
  keep: (event: T) => boolean | Promise<boolean>,
): AsyncIterableIterator<T> {
  return {
    async next() {
      for (;;) {
        const result = await source.next();
        if (result.done || (await keep(result.value))) return result;
      }
    },
    async return() {
      await source.return?.();
      return { done: true, value: undefined };
    },
    async throw(error?: unknown) {
      await source.return?.();
      throw error;
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}
