import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseEnv, servicesEnv } from '@arcadia/config';
import { startPrivateRedis, type PrivateRedis } from '@arcadia/testing';
import { repoRoot } from '../build-references.js';
import { flags, servicesArrayFlags } from './redis-flags.js';

// The cache Redis (persisted queries) is configured in two places that must
// agree, the local services (scripts/services/services.sh) and
// docker-compose.yml, and must be a bounded, evicting server of its own:
// a logical database of the queues' Redis would share that one's memory.

const script = readFileSync(join(repoRoot, 'scripts/services/services.sh'), 'utf8');
const compose = parse(readFileSync(join(repoRoot, 'docker-compose.yml'), 'utf8'), {
  merge: true,
}) as {
  services: Record<
    string,
    { command?: string[]; ports?: string[]; environment?: Record<string, string> }
  >;
};

let redis: PrivateRedis | undefined;
afterAll(() => redis?.dispose());

describe('the cache Redis', () => {
  it('is started by services.sh and compose alike: no persistence, capped, allkeys-lru', async () => {
    const expected = servicesArrayFlags(script, 'REDIS_CACHE_ARGS');
    expect(expected).toEqual({
      save: '',
      appendonly: 'no',
      maxmemory: '64mb',
      'maxmemory-policy': 'allkeys-lru',
    });
    const [binary, ...args] = compose.services['redis-cache']?.command ?? [];
    expect(binary).toBe('redis-server');
    expect(flags(args)).toEqual(expected);

    // redis-server takes them as they are written (the private server's own flags come first).
    redis = await startPrivateRedis({
      args: Object.entries(expected).flatMap(([n, v]) => [`--${n}`, v]),
    });
    const client = new Redis(redis.url);
    try {
      expect(await client.config('GET', 'maxmemory')).toEqual([
        'maxmemory',
        String(64 * 1024 * 1024),
      ]);
      expect(await client.config('GET', 'maxmemory-policy')).toEqual([
        'maxmemory-policy',
        'allkeys-lru',
      ]);
      expect(await client.config('GET', 'appendonly')).toEqual(['appendonly', 'no']);
    } finally {
      client.disconnect();
    }
  });

  it('is where the router looks by default, apart from the Redis of REDIS_URL', () => {
    const { APQ_REDIS_URL } = parseEnv('test', servicesEnv.cacheRedis, {});
    const { REDIS_URL } = parseEnv('test', servicesEnv.redis, {});
    expect(new URL(APQ_REDIS_URL).port).not.toBe(new URL(REDIS_URL).port || '6379');
    expect(script).toContain(`DEFAULT_APQ_REDIS_URL="${APQ_REDIS_URL}"`);
    expect(compose.services['redis-cache']?.ports).toEqual([
      `127.0.0.1:${new URL(APQ_REDIS_URL).port}:6379`,
    ]);
    expect(compose.services.router?.environment?.APQ_REDIS_URL).toBe('redis://redis-cache:6379');
  });
});
