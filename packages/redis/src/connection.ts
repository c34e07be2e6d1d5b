/**
 * Connections to Redis, opened the same way by every Arcadia process: an
 * 'error' listener that logs once per outage, reconnection with capped
 * exponential backoff and jitter, a `maxRetriesPerRequest` chosen for what
 * the connection is used for, and a `close()` that lets in-flight commands
 * finish.
 *
 * ```ts
 * const redis = createRedisConnection({ url, name: 'chat-live', use: 'commands', logger });
 * await redis.get('key');
 * await redis.close();
 * ```
 */
import type { EventEmitter } from 'node:events';
import { Redis, type RedisOptions } from 'ioredis';
import { createLogger, type Logger } from '@arcadia/observability';

/**
 * What a connection is for, which decides what a command does while Redis
 * is away:
 *
 * - `commands`: request paths (caches, stores, rate limits, producers). A
 *   command waits through one failed reconnection attempt, then fails with
 *   `MaxRetriesPerRequestError`: a dropped connection that comes straight
 *   back (a killed client, a failover) is invisible, an outage fails the
 *   request in a fraction of a second instead of holding it.
 * - `subscriber`: the SUBSCRIBE side of pub/sub. Commands wait for Redis to
 *   come back however long it takes (a subscription is not a request), and
 *   ioredis resubscribes every channel after a reconnection.
 * - `worker`: BullMQ workers and other background loops. Commands wait out
 *   an outage, as BullMQ requires of a worker's connections
 *   (`maxRetriesPerRequest: null`): a blocking command that failed would
 *   stop the loop instead of resuming it.
 */
export type RedisUse = 'commands' | 'subscriber' | 'worker';

/** What {@link createRedisConnection} needs. */
export interface RedisConnectionOptions {
  /** `redis://…` URL. */
  url: string;
  /**
   * Who holds the connection, e.g. `chat-live`: on its log lines and, as
   * `arcadia:<name>`, in Redis' `CLIENT LIST`.
   */
  name: string;
  use: RedisUse;
  /** Where connection problems go; a logger of the connection's own otherwise. */
  logger?: Logger;
  /**
   * Fails a command that has no answer after this many ms, for request paths
   * that must not wait on a Redis that accepts connections but does not
   * answer. Off unless given; never for `subscriber` or `worker`, whose
   * commands may rightly wait.
   */
  commandTimeoutMs?: number;
  /** How long `close()` waits for in-flight commands before dropping them; default 2000. */
  closeTimeoutMs?: number;
}

/** An ioredis client opened by {@link createRedisConnection}. */
export interface RedisConnection extends Redis {
  /**
   * Quits once every command already sent is answered (QUIT is queued behind
   * them), dropping the connection if that takes longer than
   * `closeTimeoutMs`. While Redis is away it ends at the next reconnection
   * attempt that fails (within one backoff delay), and the commands still
   * queued reject with "Connection is closed"; later commands reject at once.
   * Resolves once closed, never rejects, and is safe to call twice.
   */
  close(): Promise<void>;
}

/** Reconnection backoff: the first retry after ~50 ms, doubling, at most 2 s apart. */
export const RECONNECT_BASE_MS = 50;
/** See {@link RECONNECT_BASE_MS}. */
export const RECONNECT_MAX_MS = 2_000;

/**
 * Delay before reconnection attempt `attempt` (1-based): exponential, capped,
 * with jitter over its upper half so that every client of a restarted Redis
 * does not come back in the same millisecond. Never gives up: a process
 * without Redis is degraded, not finished.
 */
export function reconnectDelay(attempt: number): number {
  const ceiling = Math.min(RECONNECT_MAX_MS, RECONNECT_BASE_MS * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
}

// Repeats the warning while an outage lasts, at most this often.
const OUTAGE_REMINDER_MS = 30_000;

/**
 * Logs the 'error' events of `emitter` (an ioredis client, a BullMQ Queue or
 * Worker) once per outage: the first error warns, later ones of the same
 * outage only every 30 s, and the next 'ready' logs that Redis is back.
 * Without an 'error' listener an ioredis client prints every reconnection
 * failure to stderr, and a BullMQ class or a plain EventEmitter throws.
 */
export function logRedisErrors(
  emitter: Pick<EventEmitter, 'on'>,
  options: { name: string; logger: Logger },
): void {
  const { name, logger } = options;
  let outageSince: number | undefined;
  let lastWarnAt = 0;
  let suppressed = 0;
  emitter.on('error', (error: unknown) => {
    const now = Date.now();
    if (outageSince === undefined) {
      outageSince = now;
    } else if (now - lastWarnAt < OUTAGE_REMINDER_MS) {
      suppressed++;
      return;
    }
    lastWarnAt = now;
    logger.warn(
      { err: error, connection: name, downForMs: now - outageSince, suppressed },
      'redis unavailable; reconnecting',
    );
    suppressed = 0;
  });
  emitter.on('ready', () => {
    if (outageSince === undefined) return;
    logger.info({ connection: name, downForMs: Date.now() - outageSince }, 'redis available again');
    outageSince = undefined;
    suppressed = 0;
  });
}

function optionsFor(options: RedisConnectionOptions): RedisOptions {
  const common: RedisOptions = {
    connectionName: `arcadia:${options.name}`,
    retryStrategy: reconnectDelay,
    connectTimeout: 5_000,
  };
  switch (options.use) {
    case 'commands':
      return { ...common, maxRetriesPerRequest: 1, commandTimeout: options.commandTimeoutMs };
    case 'subscriber':
      return {
        ...common,
        maxRetriesPerRequest: null,
        autoResubscribe: true,
        // ioredis 5 writes SUBSCRIBE as soon as the socket connects, before
        // its ready check; a reply putting the connection in subscriber mode
        // first makes the check's INFO fail, which it takes as fatal: it
        // emits "Connection in subscriber mode", drops the connection and,
        // never having been ready, forgets the subscription for good
        // (redis/ioredis#2037, fixed in ioredis 6). A subscriber has nothing
        // to check anyway: SUBSCRIBE is allowed while Redis loads its data.
        enableReadyCheck: false,
      };
    case 'worker':
      return { ...common, maxRetriesPerRequest: null };
  }
}

class ManagedRedis extends Redis implements RedisConnection {
  readonly #state: { closed: boolean };
  readonly #closeTimeoutMs: number;
  #closing: Promise<void> | undefined;

  constructor(url: string, options: RedisOptions, closeTimeoutMs: number) {
    const state = { closed: false };
    // Once closing, a lost connection ends instead of reconnecting: that is
    // also how ioredis ends a client waiting to reconnect (below).
    super(url, {
      ...options,
      retryStrategy: (attempt) => (state.closed ? null : reconnectDelay(attempt)),
    });
    this.#state = state;
    this.#closeTimeoutMs = closeTimeoutMs;
  }

  // BullMQ duplicates a worker's connection; the copy keeps reconnecting
  // until it is closed itself, whatever happens to this one.
  override duplicate(override?: Partial<RedisOptions>): Redis {
    return super.duplicate({ retryStrategy: reconnectDelay, ...override });
  }

  close(): Promise<void> {
    if (!this.#closing) {
      this.#state.closed = true;
      this.#closing = this.#close();
    }
    return this.#closing;
  }

  /** The next of these events, or null after `ms`. */
  #next(events: string[], ms: number): Promise<string | null> {
    return new Promise((resolve) => {
      const listeners = events.map((event) => [event, () => settle(event)] as const);
      const timer = setTimeout(() => settle(null), ms);
      const settle = (event: string | null) => {
        clearTimeout(timer);
        for (const [name, listener] of listeners) this.off(name, listener);
        resolve(event);
      };
      for (const [name, listener] of listeners) this.once(name, listener);
    });
  }

  async #close(): Promise<void> {
    if (this.status === 'end') return;
    // Never connected (lazyConnect): QUIT would connect just to say goodbye.
    if (this.status === 'wait') {
      this.disconnect();
      return;
    }
    if (this.status === 'reconnecting') {
      // No socket, a reconnection timer pending. ioredis' disconnect() would
      // clear the timer and leave the client 'reconnecting' for ever, its
      // queued commands never settled and later ones queued for nothing.
      // The next attempt settles it instead, within one backoff delay plus a
      // connect: it fails, and retryStrategy (now null) ends the client and
      // rejects what was queued with "Connection is closed"; or it connects,
      // sends what was queued, and QUIT follows.
      if ((await this.#next(['end', 'ready'], RECONNECT_MAX_MS + 5_000)) === 'end') return;
    }
    // Connected or connecting: QUIT goes after every command already sent or
    // queued, so those are answered first.
    const ended = this.#next(['end'], this.#closeTimeoutMs);
    this.quit().catch(() => undefined);
    if ((await ended) === 'end') return;
    // No answer in time (a Redis that accepts but does not answer): drop the
    // socket, which ends the client and fails what is still waiting.
    const dropped = this.#next(['end'], 1_000);
    this.disconnect();
    await dropped;
  }
}

/**
 * Opens a connection to Redis for `use` (see {@link RedisUse}). It connects
 * at once, reconnects by itself for ever with {@link reconnectDelay}, and
 * logs its errors through {@link logRedisErrors}, so no process crashes or
 * prints an "Unhandled error event" when Redis goes away.
 */
export function createRedisConnection(options: RedisConnectionOptions): RedisConnection {
  const connection = new ManagedRedis(
    options.url,
    optionsFor(options),
    options.closeTimeoutMs ?? 2_000,
  );
  logRedisErrors(connection, { name: options.name, logger: options.logger ?? fallbackLogger() });
  return connection;
}

let fallback: Logger | undefined;
/** For connections opened without a logger: one for all of them, made when first needed. */
function fallbackLogger(): Logger {
  fallback ??= createLogger('redis');
  return fallback;
}
