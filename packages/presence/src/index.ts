import type { Redis } from 'ioredis';

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

// Both scripts take the time from Redis (TIME), not from the caller: router
// instances and the services reading presence run on different machines, and
// their clocks may disagree by more than a heartbeat interval. Writing the
// server's time keeps every expiry comparable with the `now` readers get from
// the same server. Scripts may call TIME before writing since Redis 5
// (effects replication).
const NOW_MS = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
`;

/**
 * KEYS[1] the user's socket set, KEYS[2] their last-seen key; ARGV[1] ttl ms,
 * ARGV[2] last-seen ttl ms, ARGV[3..] socket ids. Adds or extends the
 * sockets, drops the user's lapsed ones, and keeps the whole set alive for
 * one ttl: the newest expiry is now + ttl, so a set nobody extends any more
 * disappears by itself.
 */
const TOUCH_LUA = `${NOW_MS}
local expiry = string.format('%.0f', now + tonumber(ARGV[1]))
for i = 3, #ARGV do
  redis.call('ZADD', KEYS[1], expiry, ARGV[i])
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('PEXPIRE', KEYS[1], ARGV[1])
redis.call('SET', KEYS[2], string.format('%.0f', now), 'PX', ARGV[2])
return 1
`;

/**
 * KEYS as above; ARGV[1] last-seen ttl ms, ARGV[2] socket id. Removes the
 * socket and lapsed ones (Redis deletes a set left empty) and records now as
 * last seen: the user was live until this moment either way.
 */
const LEAVE_LUA = `${NOW_MS}
redis.call('ZREM', KEYS[1], ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('SET', KEYS[2], string.format('%.0f', now), 'PX', ARGV[1])
return redis.call('ZCARD', KEYS[1])
`;

// Names of the scripts on the caller's client (ioredis' defineCommand):
// EVALSHA with a transparent fallback to EVAL, in pipelines too. Namespaced
// because the client belongs to the caller.
const TOUCH = 'arcadiaPresenceTouch';
const LEAVE = 'arcadiaPresenceLeave';

type Script = (...keysThenArgs: (string | number)[]) => unknown;
type WithScripts = Record<typeof TOUCH | typeof LEAVE, Script>;

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
  redis.defineCommand(TOUCH, { numberOfKeys: 2, lua: TOUCH_LUA });
  redis.defineCommand(LEAVE, { numberOfKeys: 2, lua: LEAVE_LUA });
  const scripts = redis as unknown as WithScripts;

  const socketsKey = (userId: string) => `${prefix}presence:{${userId}}`;
  const seenKey = (userId: string) => `${prefix}presence:{${userId}}:seen`;

  return {
    async connect(userId, socketId) {
      await scripts[TOUCH](socketsKey(userId), seenKey(userId), ttlMs, seenTtlMs, socketId);
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
      const queue = pipeline as unknown as WithScripts;
      for (const [userId, socketIds] of byUser) {
        queue[TOUCH](socketsKey(userId), seenKey(userId), ttlMs, seenTtlMs, ...socketIds);
      }
      values(await pipeline.exec());
    },

    async disconnect(userId, socketId) {
      await scripts[LEAVE](socketsKey(userId), seenKey(userId), seenTtlMs, socketId);
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
