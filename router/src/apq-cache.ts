import { LRUCache } from 'lru-cache';

/** The part of Apollo's `KeyValueCache<string>` the persisted-query cache uses and offers. */
export interface StringCache {
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string, options?: { ttl?: number | null }): Promise<void>;
  delete(key: string): Promise<boolean | void>;
}

/**
 * Apollo's persisted-query cache for the router: an LRU in this process,
 * bounded by the bytes it holds, in front of a shared cache (Redis, see
 * `RedisKeyValueCache`) that every router instance reads.
 *
 * A hit in memory never reaches Redis, so hot operations cost no round
 * trip and keep working while Redis is away; a miss asks Redis and keeps
 * what it finds. A registration goes to both. Entries expire from memory
 * after the same TTL as in Redis (counted from when this process stored
 * them), so the memory copy outlives the Redis one by a TTL at most.
 */
export class PersistedQueryCache implements StringCache {
  readonly #memory: LRUCache<string, string>;

  constructor(
    private readonly shared: StringCache,
    options: { maxBytes: number; defaultTtlSeconds: number },
  ) {
    this.#memory = new LRUCache<string, string>({
      maxSize: options.maxBytes,
      // JavaScript strings take two bytes a character; the key counts too.
      sizeCalculation: (value, key) => 2 * (value.length + key.length),
      ttl: options.defaultTtlSeconds * 1000,
    });
  }

  async get(key: string): Promise<string | undefined> {
    const remembered = this.#memory.get(key);
    if (remembered !== undefined) return remembered;
    const stored = await this.shared.get(key);
    if (stored !== undefined) this.#memory.set(key, stored);
    return stored;
  }

  async set(key: string, value: string, options?: { ttl?: number | null }): Promise<void> {
    const ttl = options?.ttl && options.ttl > 0 ? { ttl: options.ttl * 1000 } : {};
    this.#memory.set(key, value, ttl);
    await this.shared.set(key, value, options);
  }

  async delete(key: string): Promise<boolean> {
    const inMemory = this.#memory.delete(key);
    const shared = await this.shared.delete(key);
    return inMemory || shared === true;
  }
}
