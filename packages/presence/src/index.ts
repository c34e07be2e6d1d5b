import type { Redis } from 'ioredis';
import { defineScripts, luaScript } from '@arcadia/redis';

/**
 * The key prefix every reader and writer of presence uses unless configured
 * otherwise. The router writes presence and other services (chat, social)
 * read it, so all of them must agree on one prefix: it is deliberately not
 * derived from any one service's own Redis prefix.
 */
export const PRESENCE_PREFIX_DEFAULT = 'arcadia:';

/** How long a socket stays live without a heartbeat, unless configured otherwise. */
export const PRESENCE_TTL_SECONDS_DEFAULT = 60;

/** How long a user's last-seen time is kept after their last socket went away. */
const LAST_SEEN_TTL_SECONDS_DEFAULT = 30 * 24 * 3600;

/** One live connection (a WebSocket, an SSE stream) of a signed-in user. */
export interface PresenceSocket {
  userId: string;
  /** Unique per connection, so that two tabs of one user are two sockets. */
  socketId: string;
}

/**
 * Which users have a live connection to a router right now. A user is
 * online while any of their sockets is; a socket is live until the ttl after
 * its last connect/heartbeat, so sockets of a router instance that died
 * without saying goodbye go offline by themselves.
 */
export interface Presence {
  /** Registers one socket of a user as live until now + ttl. */
  connect(userId: string, socketId: string): Promise<void>;
  /**
   * Extends many sockets at once (one pipeline, one script call per user):
   * the router calls this on a timer for all its sockets. A socket that
   * lapsed meanwhile (Redis was away longer than the ttl) is registered again.
   */
  heartbeat(sockets: readonly PresenceSocket[]): Promise<void>;
  /** Removes a socket; records lastSeenAt, which matters when it was the user's last live socket. */
  disconnect(userId: string, socketId: string): Promise<void>;
  /** Which of these users have at least one live socket now (one round trip for many users). */
  online(userIds: readonly string[]): Promise<Set<string>>;
  /**
   * When the user's last socket went away (null if never seen / unknown, or
   * longer ago than the last-seen retention). A clean disconnect records the
   * exact time; for sockets of a crashed router it is their last heartbeat.
   * For a user who is online now it is a recent moment (their last
   * connect/heartbeat), so ask {@link Presence.online} first.
   */
  lastSeen(userIds: readonly string[]): Promise<Map<string, Date | null>>;
}

/** What {@link createPresence} needs. */
export interface PresenceOptions {
  /** An ioredis client the caller owns (and closes); presence never closes it. */
  redis: Redis;
  /** Namespace of the keys; every service reading the same presence must use the same one. */
  prefix: string;
  /** How long a socket stays live after its last connect/heartbeat; default 60. */
  ttlSeconds?: number;
  /** How long last-seen times are kept; default 30 days. */
  lastSeenTtlSeconds?: number;
}

// Both scripts take the time from Redis (TIME), not from the caller: see
// lua/touch.lua. Read once, when this module loads; run by SHA.
const TOUCH = luaScript<number>(new URL('../lua/touch.lua', import.meta.url), { keys: 2 });
const LEAVE = luaScript<number>(new URL('../lua/leave.lua', import.meta.url), { keys: 2 });

/** Throws the first error of a pipeline's replies, else returns the values. */
function values(replies: [Error | null, unknown][] | null): unknown[] {
  if (!replies) throw new Error('presence: pipeline was discarded');
  return replies.map(([error, value]) => {
    if (error) throw error;
    return value;
  });
}

/**
 * Creates presence on `redis`. Keys, per user (the `{userId}` hash tag puts
 * both in one Redis Cluster slot, so one script may touch both):
 *
 * - `<prefix>presence:{<userId>}`: sorted set, member = socket id, score =
 *   the socket's expiry (epoch ms, Redis clock); the key itself expires one
 *   ttl after its last write.
 * - `<prefix>presence:{<userId>}:seen`: epoch ms of the last time a socket of
 *   the user was known live, kept for `lastSeenTtlSeconds`.
 *
 * Calls for many users are one pipeline of per-user commands; with Redis
 * Cluster they would have to be split per node, which this does not do.
 */
export function createPresence(options: PresenceOptions): Presence {
  const { redis, prefix } = options;
  const ttlMs = Math.round((options.ttlSeconds ?? PRESENCE_TTL_SECONDS_DEFAULT) * 1000);
  const seenTtlMs = Math.round(
    (options.lastSeenTtlSeconds ?? LAST_SEEN_TTL_SECONDS_DEFAULT) * 1000,
  );
  if (!(ttlMs >= 1) || !(seenTtlMs >= 1)) {
    throw new RangeError('presence: ttlSeconds and lastSeenTtlSeconds must be positive');
  }
  const scripts = defineScripts(redis, { touch: TOUCH, leave: LEAVE });

  const socketsKey = (userId: string) => `${prefix}presence:{${userId}}`;
  const seenKey = (userId: string) => `${prefix}presence:{${userId}}:seen`;

  return {
    async connect(userId, socketId) {
      await scripts.touch([socketsKey(userId), seenKey(userId)], [ttlMs, seenTtlMs, socketId]);
    },

    async heartbeat(sockets) {
      if (!sockets.length) return;
      // One script call per user carries all of that user's sockets.
      const byUser = new Map<string, string[]>();
      for (const { userId, socketId } of sockets) {
        const ids = byUser.get(userId);
        if (ids) ids.push(socketId);
        else byUser.set(userId, [socketId]);
      }
      const pipeline = redis.pipeline();
      for (const [userId, socketIds] of byUser) {
        scripts.touch.queue(
          pipeline,
          [socketsKey(userId), seenKey(userId)],
          [ttlMs, seenTtlMs, ...socketIds],
        );
      }
      values(await pipeline.exec());
    },

    async disconnect(userId, socketId) {
      await scripts.leave([socketsKey(userId), seenKey(userId)], [seenTtlMs, socketId]);
    },

    async online(userIds) {
      const ids = [...new Set(userIds)];
      const result = new Set<string>();
      if (!ids.length) return result;
      // Read-only, no script: the newest expiry of each set against the
      // server's clock, both read in the same round trip. Lapsed members are
      // left for the next write on that user (or the key's own expiry).
      const pipeline = redis.pipeline().time();
      for (const id of ids) pipeline.zrange(socketsKey(id), -1, -1, 'WITHSCORES');
      const [time, ...newest] = values(await pipeline.exec());
      const [seconds, micros] = time as [string, string];
      const now = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
      ids.forEach((id, i) => {
        const score = (newest[i] as string[])[1];
        if (score !== undefined && Number(score) > now) result.add(id);
      });
      return result;
    },

    async lastSeen(userIds) {
      const ids = [...new Set(userIds)];
      const result = new Map<string, Date | null>();
      if (!ids.length) return result;
      // GETs in a pipeline rather than MGET: the keys live in different
      // Cluster slots.
      const pipeline = redis.pipeline();
      for (const id of ids) pipeline.get(seenKey(id));
      const seen = values(await pipeline.exec());
      ids.forEach((id, i) => {
        const ms = seen[i];
        result.set(id, typeof ms === 'string' ? new Date(Number(ms)) : null);
      });
      return result;
    },
  };
}
