/**
 * The Redis side of chat: the per-conversation clock message ids are cut
 * from, unread messages per member, the typing throttle and the send limiter.
 *
 * Unread is a sorted set per member and conversation rather than a bare
 * counter: a send adds the message (ZADD: a retried send adds nothing
 * twice), a read removes everything up to the read message (a range, so a
 * read racing a send is exact and the count never goes below zero), and the
 * count is the set's size. Every set holds a sentinel member from the
 * moment the member joins, so a set that is missing was lost (eviction, a
 * failover) and is rebuilt from Cassandra rather than read as "all read".
 */
import { Redis } from 'ioredis';
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { Logger } from '@arcadia/observability';
import { createRedisConnection, defineScripts, luaScript } from '@arcadia/redis';

/** Largest unread count kept per conversation; more shows as this many. */
export const UNREAD_CAP = 1000;

// Lower than every member (hex strings), so reads never remove it.
const SENTINEL = '!';

// The scripts, read once when this module loads and run by SHA.
const lua = (name: string) => new URL(`../../lua/${name}.lua`, import.meta.url);
const NEXT_MICROS = luaScript<string>(lua('next-micros'), { keys: 1 });
const ADD_UNREAD = luaScript<number>(lua('add-unread'), { keys: 1 });
const READ_UP_TO = luaScript<number>(lua('read-up-to'), { keys: 1 });
const REBUILD_UNREAD = luaScript<number>(lua('rebuild-unread'), { keys: 1 });

/** The Redis side of the chat store. */
export interface LiveStore {
  /**
   * Unix microseconds for a new message of the conversation: Redis's clock,
   * strictly after the previous message's, so ids of one conversation are
   * ordered however many instances send.
   */
  nextMicros(conversationId: string): Promise<number>;
  /**
   * Claims a sender's client message id for `timeId`: null when this call
   * claimed it, else the time id the first claim took. Kept a day; the
   * durable record is Cassandra's `client_messages`.
   */
  claimClientMessage(
    conversationId: string,
    senderId: string,
    clientMessageId: string,
    timeId: string,
  ): Promise<string | null>;
  /** Starts empty unread sets for new members. */
  initUnread(conversationId: string, userIds: readonly string[]): Promise<void>;
  /** Forgets a member's unread set (they left the conversation). */
  dropUnread(conversationId: string, userId: string): Promise<void>;
  /** Adds a message (by sort key) to the members' unread sets. */
  addUnread(conversationId: string, userIds: readonly string[], sortKey: string): Promise<void>;
  /** Removes everything up to `sortKey`; the count left, or null when the set is lost. */
  readUpTo(conversationId: string, userId: string, sortKey: string): Promise<number | null>;
  /** A user's unread counts, null where the set is lost. */
  unreadCounts(userId: string, conversationIds: readonly string[]): Promise<(number | null)[]>;
  /** Recreates a lost set from these unread messages (sort keys); the count. */
  rebuildUnread(
    conversationId: string,
    userId: string,
    sortKeys: readonly string[],
  ): Promise<number>;
  /** True when a typing notice may go out now (at most one per interval). */
  claimTyping(conversationId: string, userId: string, intervalMs: number): Promise<boolean>;
  /** Counts a send; resolves to the seconds to wait when over the limit, else null. */
  consumeSend(userId: string): Promise<number | null>;
  /** The client, for the presence and push-device registries sharing it. */
  readonly redis: Redis;
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** Opens the chat's Redis side. */
export function openLiveStore(options: {
  redisUrl: string;
  /** Key prefix, e.g. `arcadia:`. */
  prefix: string;
  sendLimit: { points: number; durationSeconds: number };
  /** Where connection problems are logged (once per outage). */
  logger?: Logger | undefined;
}): LiveStore {
  // Request paths only: while Redis is away a command fails fast instead of
  // holding the request; the connection logs the outage and reconnects.
  const redis = createRedisConnection({
    url: options.redisUrl,
    name: 'chat-live',
    use: 'commands',
    ...(options.logger ? { logger: options.logger } : {}),
  });
  const scripts = defineScripts(redis, {
    nextMicros: NEXT_MICROS,
    addUnread: ADD_UNREAD,
    readUpTo: READ_UP_TO,
    rebuildUnread: REBUILD_UNREAD,
  });
  const p = `${options.prefix}chat:`;
  // Keys of one user share a hash tag, so their counts come from one Redis Cluster node.
  const unreadKey = (conversationId: string, userId: string) =>
    `${p}unread:{${userId}}:${conversationId}`;
  const limiter = new RateLimiterRedis({
    storeClient: redis,
    keyPrefix: `${p}send-limit`,
    points: options.sendLimit.points,
    duration: options.sendLimit.durationSeconds,
  });

  return {
    redis,
    async nextMicros(conversationId) {
      return Number(await scripts.nextMicros([`${p}clock:{${conversationId}}`], [3_600_000]));
    },
    async claimClientMessage(conversationId, senderId, clientMessageId, timeId) {
      // SET … NX GET: sets and answers null, or answers the value already there.
      const previous = (await redis.call(
        'SET',
        `${p}client-message:{${conversationId}}:${senderId}:${clientMessageId}`,
        timeId,
        'NX',
        'GET',
        'EX',
        86_400,
      )) as string | null;
      return previous;
    },
    async initUnread(conversationId, userIds) {
      const pipeline = redis.pipeline();
      for (const userId of userIds)
        pipeline.zadd(unreadKey(conversationId, userId), 'NX', 0, SENTINEL);
      await pipeline.exec();
    },
    async dropUnread(conversationId, userId) {
      await redis.del(unreadKey(conversationId, userId));
    },
    async addUnread(conversationId, userIds, sortKey) {
      if (!userIds.length) return;
      // One call per member: the keys live on different Cluster nodes.
      const pipeline = redis.pipeline();
      for (const userId of userIds) {
        scripts.addUnread.queue(
          pipeline,
          [unreadKey(conversationId, userId)],
          [sortKey, UNREAD_CAP],
        );
      }
      // A pipeline resolves whatever its commands answered: the first failure is the caller's.
      for (const [error] of (await pipeline.exec()) ?? []) if (error) throw error;
    },
    async readUpTo(conversationId, userId, sortKey) {
      const left = await scripts.readUpTo([unreadKey(conversationId, userId)], [sortKey, SENTINEL]);
      return left < 0 ? null : left;
    },
    async unreadCounts(userId, conversationIds) {
      if (!conversationIds.length) return [];
      const pipeline = redis.pipeline();
      for (const id of conversationIds) pipeline.zcard(unreadKey(id, userId));
      const results = (await pipeline.exec()) ?? [];
      return results.map(([error, count]) => {
        if (error) throw error;
        return (count as number) === 0 ? null : Math.min((count as number) - 1, UNREAD_CAP);
      });
    },
    async rebuildUnread(conversationId, userId, sortKeys) {
      const count = await scripts.rebuildUnread(
        [unreadKey(conversationId, userId)],
        [SENTINEL, ...sortKeys],
      );
      return Math.min(count, UNREAD_CAP);
    },
    async claimTyping(conversationId, userId, intervalMs) {
      const set = await redis.set(
        `${p}typing:{${conversationId}}:${userId}`,
        '1',
        'PX',
        intervalMs,
        'NX',
      );
      return set === 'OK';
    },
    async consumeSend(userId) {
      try {
        await limiter.consume(userId);
        return null;
      } catch (rejection) {
        if (rejection instanceof RateLimiterRes)
          return Math.max(1, Math.ceil(rejection.msBeforeNext / 1000));
        throw rejection;
      }
    },
    async ping() {
      await redis.ping();
    },
    async close() {
      await redis.close();
    },
  };
}
