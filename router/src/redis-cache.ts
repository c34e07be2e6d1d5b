import type { Redis } from 'ioredis';
import type { Logger } from '@arcadia/observability';

/**
 * Apollo's `KeyValueCache<string>` over Redis, so that every router instance
 * sees the persisted queries any of them registered. Keys carry `prefix`;
 * entries expire after the caller's TTL or `defaultTtlSeconds`.
 *
 * Redis trouble degrades instead of failing requests: a failed read is a
 * miss (APQ clients then send the full query), a failed write is logged.
 */
export class RedisKeyValueCache {
  constructor(
    private readonly redis: Redis,
    private readonly options: { prefix: string; defaultTtlSeconds: number; logger: Logger },
  ) {}

  async get(key: string): Promise<string | undefined> {
    try {
      return (await this.redis.get(this.options.prefix + key)) ?? undefined;
    } catch (error) {
      this.options.logger.warn({ err: error }, 'redis cache read failed; treating as a miss');
      return undefined;
    }
  }

  async set(key: string, value: string, options?: { ttl?: number | null }): Promise<void> {
    // Apollo passes ttl null for "no expiry"; Redis gets our default instead so
    // abandoned hashes do not accumulate forever.
    const ttl = options?.ttl && options.ttl > 0 ? options.ttl : this.options.defaultTtlSeconds;
    await this.redis.set(this.options.prefix + key, value, 'EX', Math.ceil(ttl));
  }

  async delete(key: string): Promise<boolean> {
    return (await this.redis.del(this.options.prefix + key)) > 0;
  }
}
