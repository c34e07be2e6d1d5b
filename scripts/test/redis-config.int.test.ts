import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { startPrivateRedis, type PrivateRedis } from '@arcadia/testing';
import { repoRoot } from '../build-references.js';
import { flags, servicesArrayFlags } from './redis-flags.js';

// Redis is configured in three places that must agree: the local services
// (scripts/services/services.sh), docker-compose.yml, and the private
// redis-server tests restart (startPrivateRedis). Each says so in a comment;
// this holds them to it.

function servicesFlags(): Record<string, string> {
  const script = readFileSync(join(repoRoot, 'scripts/services/services.sh'), 'utf8');
  return servicesArrayFlags(script, 'REDIS_PERSISTENCE_ARGS');
}

function composeFlags(): Record<string, string> {
  const compose = parse(readFileSync(join(repoRoot, 'docker-compose.yml'), 'utf8')) as {
    services: { redis: { command: string[] } };
  };
  const [binary, ...args] = compose.services.redis.command;
  expect(binary).toBe('redis-server');
  return flags(args);
}

let redis: PrivateRedis | undefined;
afterAll(() => redis?.dispose());

describe('Redis persistence settings', () => {
  it('are the same in services.sh, docker-compose.yml and the private test server', async () => {
    const expected = servicesFlags();
    expect(expected).toMatchObject({
      appendonly: 'yes',
      appendfsync: 'everysec',
      'maxmemory-policy': 'noeviction',
    });
    expect(composeFlags()).toEqual(expected);

    redis = await startPrivateRedis();
    const client = new Redis(redis.url);
    try {
      for (const [name, value] of Object.entries(expected)) {
        expect(await client.config('GET', name), name).toEqual([name, value]);
      }
    } finally {
      client.disconnect();
    }
  });
});
