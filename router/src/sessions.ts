import { LRUCache } from 'lru-cache';
import { revokedSessionKey, sessionRevokedChannel } from '@arcadia/auth';
import { ErrorCode, UserError } from '@arcadia/errors';
import type { Logger } from '@arcadia/observability';
import { createRedisConnection, type RedisConnection } from '@arcadia/redis';

/** Why a long-lived stream (a graphql-ws socket, an SSE stream) is ended by the router. */
export type StreamEnd = 'TOKEN_EXPIRED' | 'SESSION_REVOKED';

/** The error a request of a revoked session gets (and a stream of one, as it ends). */
export function sessionRevoked(): UserError {
  return new UserError(
    ErrorCode.UNAUTHENTICATED,
    'The session has ended; sign in again.',
    { reason: 'SESSION_REVOKED' },
    { httpStatus: 401 },
  );
}

/** The error a stream gets as it ends because its access token expired. */
export function tokenExpired(): UserError {
  return new UserError(
    ErrorCode.UNAUTHENTICATED,
    'The access token has expired.',
    { reason: 'TOKEN_EXPIRED' },
    { httpStatus: 401 },
  );
}

/**
 * Which sessions accounts revoked (sign-out, refresh-token reuse), as the
 * router needs it: a check per request, and an end to the open streams of
 * a session the moment it is revoked, on every router instance.
 */
export interface SessionGuard {
  /**
   * Whether `sessionId` was revoked: at most one Redis round trip, none for
   * a session checked in the last `cacheMs` or announced revoked. When Redis
   * does not answer the session counts as live (logged): the token's
   * signature and expiry still hold, and every request failing would be worse.
   */
  isRevoked(sessionId: string): Promise<boolean>;
  /**
   * Calls `end` once when the stream's token expires (`expiresAt`) or its
   * session is revoked, whichever comes first; the returned function stops
   * watching (call it when the stream closes).
   */
  watch(
    stream: { sessionId?: string | undefined; expiresAt: Date | null },
    end: (why: StreamEnd) => void,
  ): () => void;
  close(): Promise<void>;
}

// Revoked sessions heard of stay known this long at most: past the longest
// access-token lifetime nothing of theirs verifies anyway.
const REVOKED_MEMORY_MS = 60 * 60_000;
const WARN_INTERVAL_MS = 30_000;
// setTimeout's limit; a later expiry is re-armed when it comes.
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * A {@link SessionGuard} over Redis: `redis` answers the checks, a
 * subscriber connection of its own hears each revocation on the channel.
 * After the subscriber reconnects, every watched session is checked again:
 * an announcement made while it was away is not delivered later.
 */
export function createSessionGuard(options: {
  redis: RedisConnection;
  redisUrl: string;
  prefix: string;
  /** How long a "not revoked" answer is reused. */
  cacheMs: number;
  logger: Logger;
}): SessionGuard {
  const { redis, prefix, logger } = options;
  const live = new LRUCache<string, true>({ max: 100_000, ttl: options.cacheMs });
  const revoked = new LRUCache<string, true>({ max: 100_000, ttl: REVOKED_MEMORY_MS });
  // The ends of the streams open on this instance, by session.
  const watchers = new Map<string, Set<(why: StreamEnd) => void>>();
  let lastWarnAt = 0;

  const markRevoked = (sessionId: string) => {
    revoked.set(sessionId, true);
    live.delete(sessionId);
    for (const end of [...(watchers.get(sessionId) ?? [])]) end('SESSION_REVOKED');
  };

  const subscriber = createRedisConnection({
    url: options.redisUrl,
    name: 'router-sessions',
    use: 'subscriber',
    logger,
  });
  const channel = sessionRevokedChannel(prefix);
  subscriber.on('message', (from: string, sessionId: string) => {
    if (from === channel) markRevoked(sessionId);
  });
  let subscribedOnce = false;
  subscriber.on('ready', () => {
    // ioredis subscribes again by itself after a reconnection; what was
    // announced in between is found by asking.
    if (subscribedOnce) void recheckWatched();
  });
  const subscribed = subscriber.subscribe(channel).then(
    () => {
      subscribedOnce = true;
    },
    (error: unknown) => logger.warn({ err: error }, 'could not subscribe to session revocations'),
  );

  async function ask(sessionId: string): Promise<boolean> {
    if (revoked.has(sessionId)) return true;
    if (live.has(sessionId)) return false;
    try {
      if ((await redis.exists(revokedSessionKey(prefix, sessionId))) > 0) {
        markRevoked(sessionId);
        return true;
      }
      live.set(sessionId, true);
      return false;
    } catch (error) {
      if (Date.now() - lastWarnAt > WARN_INTERVAL_MS) {
        lastWarnAt = Date.now();
        logger.warn(
          { err: error },
          'session revocations unavailable; tokens checked by signature only',
        );
      }
      return false;
    }
  }

  async function recheckWatched(): Promise<void> {
    for (const sessionId of watchers.keys()) {
      live.delete(sessionId);
      await ask(sessionId);
    }
  }

  return {
    isRevoked: ask,
    watch(stream, end) {
      let ended = false;
      let timer: NodeJS.Timeout | undefined;
      const finish = (why: StreamEnd) => {
        if (ended) return;
        ended = true;
        stop();
        end(why);
      };
      const armExpiry = () => {
        if (!stream.expiresAt) return;
        const ms = stream.expiresAt.getTime() - Date.now();
        if (ms <= 0) return finish('TOKEN_EXPIRED');
        timer = setTimeout(() => armExpiry(), Math.min(ms, MAX_TIMER_MS));
      };
      const { sessionId } = stream;
      if (sessionId) {
        let set = watchers.get(sessionId);
        if (!set) watchers.set(sessionId, (set = new Set()));
        set.add(finish);
      }
      function stop() {
        clearTimeout(timer);
        if (!sessionId) return;
        const set = watchers.get(sessionId);
        set?.delete(finish);
        if (set?.size === 0) watchers.delete(sessionId);
      }
      armExpiry();
      // Revoked between the stream's check and now: announced already.
      if (sessionId && revoked.has(sessionId)) queueMicrotask(() => finish('SESSION_REVOKED'));
      return () => {
        ended = true;
        stop();
      };
    },
    async close() {
      await subscribed;
      await subscriber.close();
      watchers.clear();
    },
  };
}
