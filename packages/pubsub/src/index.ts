import { createLogger, type Logger } from '@arcadia/observability';
import { createRedisConnection } from '@arcadia/redis';

/**
 * The events of one subscription, as an async iterator, and when it is live.
 * `return()` ends it at once (a pending `next()` resolves done), whether or
 * not an event is on its way.
 */
export interface PubSubSubscription<T> extends AsyncIterableIterator<T> {
  /**
   * Resolves once Redis has confirmed the SUBSCRIBE of every trigger: an
   * event published after that reaches this subscription. Rejects when the
   * pub/sub was closed first. A caller that must not miss the first event
   * waits for this before causing it.
   * It tells of the first confirmation only: after a dropped connection
   * ioredis subscribes again by itself, and events published in between are
   * lost (Redis pub/sub keeps nothing for later).
   */
  readonly subscribed: Promise<void>;
}

/**
 * A PubSub whose triggers and payloads are typed by `Events`, backed by
 * Redis so that an event published by any instance reaches subscribers on
 * every instance.
 */
export interface TypedPubSub<Events extends Record<string, unknown>> {
  /**
   * Publishes `payload` (as JSON). Fails while Redis is away rather than
   * waiting for it: a publish is part of a request or a job, which has its
   * own way to retry.
   */
  publish<K extends keyof Events & string>(trigger: K, payload: Events[K]): Promise<void>;
  /** The payloads published on `trigger` (or any of several) from now on. */
  subscribe<K extends keyof Events & string>(trigger: K | K[]): PubSubSubscription<Events[K]>;
  /**
   * Ends every subscription (each pending `next()` resolves done), then
   * closes both Redis connections once in-flight publishes are answered.
   * Safe to call twice; a subscription started afterwards ends at once.
   */
  close(): Promise<void>;
}

/** What {@link createPubSub} needs. */
export interface PubSubOptions {
  redisUrl: string;
  /** Namespaces every channel, so tests and deployments sharing a Redis never hear each other. */
  prefix: string;
  /** Where connection problems and undecodable messages are logged. */
  logger?: Logger;
}

type Listener = (payload: unknown) => void;

/**
 * Creates a Redis-backed PubSub: one connection publishes, one subscribes to
 * every channel any local subscription listens to (each channel once,
 * however many subscriptions share it).
 *
 * Written over ioredis rather than with graphql-redis-subscriptions, which
 * sends UNSUBSCRIBE without waiting for or catching it: a subscription ending
 * while Redis is away or after close() then became an unhandled rejection
 * ("Connection is closed", graphql-redis-subscriptions#593), and its
 * iterator's `return()` waited for a SUBSCRIBE that might never be answered.
 * Here every command's failure is caught (and logged unless it is the
 * expected end of a closing connection), and ending a subscription never
 * waits on Redis.
 */
export function createPubSub<Events extends Record<string, unknown>>(
  options: PubSubOptions,
): TypedPubSub<Events> {
  // Its own problems (an undecodable message) are logged too, never dropped unseen.
  const logger = options.logger ?? createLogger('pubsub');
  const publisher = createRedisConnection({
    url: options.redisUrl,
    name: 'pubsub-publisher',
    use: 'commands',
    logger,
  });
  const subscriber = createRedisConnection({
    url: options.redisUrl,
    name: 'pubsub-subscriber',
    use: 'subscriber',
    logger,
  });
  const channel = (trigger: string) => `${options.prefix}:${trigger}`;
  // channel → the local listeners, and its SUBSCRIBE (resolved once Redis confirmed it).
  const channels = new Map<string, { listeners: Set<Listener>; subscribed: Promise<void> }>();
  // Every subscription not yet ended, so close() can end them.
  const open = new Set<() => void>();
  let closed = false;
  let closing: Promise<void> | undefined;

  subscriber.on('message', (name: string, message: string) => {
    const entry = channels.get(name);
    if (!entry) return;
    let payload: unknown;
    try {
      payload = JSON.parse(message);
    } catch (error) {
      logger.warn({ err: error, channel: name }, 'pubsub: dropped a message that is not JSON');
      return;
    }
    for (const listener of [...entry.listeners]) listener(payload);
  });

  function listen(name: string, listener: Listener): Promise<void> {
    let entry = channels.get(name);
    if (!entry) {
      // Sent on the subscriber connection after any UNSUBSCRIBE of the same
      // channel by an earlier subscription, so Redis ends up subscribed.
      const subscribed = subscriber.subscribe(name).then(() => undefined);
      // It waits for Redis however long it is away, so it fails only when
      // close() ends the connection under it. The promise goes to callers of
      // `subscribed`; this handler keeps it from ever going unhandled.
      subscribed.catch((error: unknown) => {
        if (!closed) logger.warn({ err: error, channel: name }, 'pubsub: subscribe failed');
      });
      entry = { listeners: new Set(), subscribed };
      channels.set(name, entry);
    }
    entry.listeners.add(listener);
    return entry.subscribed;
  }

  function unlisten(name: string, listener: Listener): void {
    const entry = channels.get(name);
    if (!entry?.listeners.delete(listener) || entry.listeners.size) return;
    channels.delete(name);
    // Closing: QUIT drops every subscription with the connection.
    if (closed) return;
    subscriber.unsubscribe(name).catch((error: unknown) => {
      logger.debug({ err: error, channel: name }, 'pubsub: unsubscribe not confirmed');
    });
  }

  function subscribe<T>(triggers: string[]): PubSubSubscription<T> {
    const names = [...new Set(triggers.map(channel))];
    const buffered: T[] = [];
    const waiting: ((result: IteratorResult<T>) => void)[] = [];
    let done = false;
    const listener: Listener = (payload) => {
      const next = waiting.shift();
      if (next) next({ done: false, value: payload as T });
      else buffered.push(payload as T);
    };
    const end = () => {
      if (done) return;
      done = true;
      open.delete(end);
      for (const name of names) unlisten(name, listener);
      buffered.length = 0;
      for (const next of waiting.splice(0)) next({ done: true, value: undefined });
    };

    let subscribed: Promise<void>;
    if (closed) {
      done = true;
      subscribed = Promise.reject(new Error('pubsub is closed'));
    } else {
      open.add(end);
      subscribed = Promise.all(names.map((name) => listen(name, listener))).then(() => undefined);
    }
    // Awaiting it is optional; an unawaited rejection must not surface as unhandled.
    subscribed.catch(() => undefined);

    return {
      subscribed,
      next() {
        if (buffered.length) return Promise.resolve({ done: false, value: buffered.shift()! });
        if (done) return Promise.resolve({ done: true, value: undefined });
        return new Promise((resolve) => waiting.push(resolve));
      },
      return() {
        end();
        return Promise.resolve({ done: true, value: undefined });
      },
      throw(error?: unknown) {
        end();
        return Promise.reject(error instanceof Error ? error : new Error(String(error)));
      },
      [Symbol.asyncIterator]() {
        return this;
      },
    };
  }

  return {
    async publish(trigger, payload) {
      await publisher.publish(channel(trigger), JSON.stringify(payload));
    },
    subscribe(trigger) {
      return subscribe(Array.isArray(trigger) ? trigger : [trigger]);
    },
    close() {
      if (!closing) {
        closed = true;
        for (const end of [...open]) end();
        closing = Promise.all([publisher.close(), subscriber.close()]).then(() => undefined);
      }
      return closing;
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
