import type { Redis } from 'ioredis';
import type { Logger } from '@arcadia/observability';

// Redis down means one failure per request; one line per interval says enough.
const WARN_INTERVAL_MS = 30_000;

/**
 * Apollo's `KeyValueCache<string>` over Redis, so that every router instance
 * sees the persisted queries any of them registered. Keys carry `prefix`;
 * entries expire after the caller's TTL or `defaultTtlSeconds`.
 *
 * Redis trouble degrades instead of failing requests: a failed read is a
 * miss (APQ clients then send the full query), a failed write leaves the
 * query unregistered (the client sends it again next time). Both are logged,
 * at most once per 30 s while Redis stays away.
 */
export class RedisKeyValueCache {
  #lastWarnAt = 0;

  constructor(
    private readonly redis: Redis,
    private readonly options: { prefix: string; defaultTtlSeconds: number; logger: Logger },
  ) {}

  async get(key: string): Promise<string | undefined> {
    try {
      return (await this.redis.get(this.options.prefix + key)) ?? undefined;
    } catch (error) {
      this.#warn(error, 'redis cache read failed; treating as a miss');
      return undefined;
    }
  }

  async set(key: string, value: string, options?: { ttl?: number | null }): Promise<void> {
    // Apollo passes ttl null for "no expiry"; Redis gets our default instead so
    // abandoned hashes do not accumulate forever.
    const ttl = options?.ttl && options.ttl > 0 ? options.ttl : this.options.defaultTtlSeconds;
    try {
      await this.redis.set(this.options.prefix + key, value, 'EX', Math.ceil(ttl));
    } catch (error) {
      this.#warn(error, 'redis cache write failed; the query stays unregistered');
    }
  }

  async delete(key: string): Promise<boolean> {
    return (await this.redis.del(this.options.prefix + key)) > 0;
  }

  #warn(error: unknown, message: string): void {
    if (Date.now() - this.#lastWarnAt < WARN_INTERVAL_MS) return;
    this.#lastWarnAt = Date.now();
    this.options.logger.warn({ err: error }, message);
  }
}
