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
