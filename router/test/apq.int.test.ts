/**
 * Automatic persisted queries against real Redis servers: the round trip
 * Apollo clients rely on, where registrations are stored (a cache Redis of
 * their own, with a bounded LRU in the router in front of it), and what is
 * refused: queries over the size cap, registrations over a client's rate
 * limit, a hash that does not match its query and an unknown APQ version.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseEnv, servicesEnv } from '@arcadia/config';
import { createLogger } from '@arcadia/observability';
import { createRedisConnection, type RedisConnection } from '@arcadia/redis';
import { eventually, startPrivateRedis, uniqueName, type PrivateRedis } from '@arcadia/testing';
import { postJson } from './fixtures.js';
import {
  completion,
  connectWs,
  overWs,
  startNotesStack,
  type LoggedRouter,
  type NotesStack,
} from './transport-fixtures.js';

const MAX_QUERY_BYTES = 2048;
const REGISTRATIONS_PER_MINUTE = 3;

let cacheRedis: PrivateRedis;
/** A client of the cache Redis (APQ_REDIS_URL), to see what the router stored. */
let cache: RedisConnection;
/** A client of the Redis of REDIS_URL (queues, pub/sub), where APQ must not write. */
let queues: RedisConnection;
let stack: NotesStack;
let router: LoggedRouter;

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** A distinct anonymous query per call, so that each one is a new registration. */
let counter = 0;
const newQuery = (label: string) =>
  `query Apq_${label}_${Date.now()}_${++counter} { note(id: "n1") { text } }`;

/** A fresh client address, passed as `X-Forwarded-For` (the router trusts 127.0.0.1). */
let addresses = 0;
const newClient = () => ({ 'x-forwarded-for': `198.51.100.${++addresses}` });

function send(
  body: { query?: string; extensions?: Record<string, unknown> },
  headers: Record<string, string> = newClient(),
) {
  return postJson(router.url, body, headers);
}

const persisted = (query: string, version: unknown = 1) => ({
  persistedQuery: { version, sha256Hash: sha256(query) },
});

/** The keys that hold the persisted query `hash` in `redis`. */
const keysOf = (redis: RedisConnection, hash: string) =>
  redis.keys(`${router.redisKeyPrefix}*${hash}`);

/** Log lines at error level or above (pino: 50 is error). */
const errorLines = () => router.lines.filter((line) => line.level >= 50);

beforeAll(async () => {
  // Configured as `npm run services` runs redis-cache: no persistence, evicting.
  cacheRedis = await startPrivateRedis({
    args: ['--appendonly', 'no', '--maxmemory', '32mb', '--maxmemory-policy', 'allkeys-lru'],
  });
  // Silent: the last test stops the cache Redis under this client.
  const logger = createLogger('apq-test', 'silent');
  cache = createRedisConnection({
    url: cacheRedis.url,
    name: 'apq-test-cache',
    use: 'commands',
    logger,
  });
  queues = createRedisConnection({
    url: parseEnv('apq-test', servicesEnv.redis).REDIS_URL,
    name: 'apq-test-queues',
    use: 'commands',
    logger,
  });
  stack = await startNotesStack({
    APQ_REDIS_URL: cacheRedis.url,
    APQ_MAX_QUERY_BYTES: String(MAX_QUERY_BYTES),
    APQ_REGISTRATIONS_PER_MINUTE: String(REGISTRATIONS_PER_MINUTE),
    TRUSTED_PROXIES: '127.0.0.1',
  });
  router = stack.router;
});
afterAll(async () => {
  await stack?.stop();
  // Leave the shared Redis as we found it (the rate limiter's counters).
  const left = await queues?.keys(`${router?.redisKeyPrefix}*`);
  if (left?.length) await queues.del(...left);
  await cache?.close();
  await queues?.close();
  await cacheRedis?.dispose();
});

describe('automatic persisted queries', () => {
  it('still make the round trip clients expect: a miss, a registration, then hits by hash alone', async () => {
    const query = newQuery('roundTrip');
    const client = newClient();
    const miss = await send({ extensions: persisted(query) }, client);
    expect(miss.status).toBe(200);
    expect(miss.body.errors[0].extensions.code).toBe('PERSISTED_QUERY_NOT_FOUND');

    const register = await send({ query, extensions: persisted(query) }, client);
    expect(register.status).toBe(200);
    expect(register.body).toEqual({ data: { note: { text: 'first' } } });

    const hit = await send({ extensions: persisted(query) }, client);
    expect(hit.status).toBe(200);
    expect(hit.body).toEqual({ data: { note: { text: 'first' } } });
  });

  it('are stored in the cache Redis of APQ_REDIS_URL, not in the Redis of REDIS_URL', async () => {
    const query = newQuery('where');
    const register = await send({ query, extensions: persisted(query) });
    expect(register.body.data).toBeDefined();
    // Written after the answer.
    await eventually(async () => (await keysOf(cache, sha256(query))).length === 1, {
      what: 'the registration in the cache Redis',
    });
    expect(await keysOf(queues, sha256(query))).toEqual([]);
  });

  it('stay registered with a TTL of a day at most', async () => {
    const query = newQuery('ttl');
    await send({ query, extensions: persisted(query) });
    const [key] = await eventually(async () => {
      const found = await keysOf(cache, sha256(query));
      return found.length ? found : undefined;
    });
    const ttl = await cache.ttl(key!);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(24 * 3600);
  });

  it('refuse to register a query larger than APQ_MAX_QUERY_BYTES, with 400 PERSISTED_QUERY_TOO_LARGE, and store nothing', async () => {
    // A comment costs no parser tokens, so only the size cap stops it.
    const big = `${newQuery('big')} # ${'x'.repeat(MAX_QUERY_BYTES)}`;
    const client = newClient();
    const refused = await send({ query: big, extensions: persisted(big) }, client);
    expect(refused.status).toBe(400);
    expect(refused.body.errors).toHaveLength(1);
    expect(refused.body.errors[0].extensions).toEqual({
      code: 'PERSISTED_QUERY_TOO_LARGE',
      maxBytes: MAX_QUERY_BYTES,
    });
    expect(refused.body.data).toBeUndefined();

    // Positive control: a registration sent after it is stored, so the big one would be by now.
    const small = newQuery('afterBig');
    await send({ query: small, extensions: persisted(small) }, client);
    await eventually(async () => (await keysOf(cache, sha256(small))).length === 1, {
      what: 'the control registration in the cache Redis',
    });
    expect(await keysOf(cache, sha256(big))).toEqual([]);
    expect(await keysOf(queues, sha256(big))).toEqual([]);
    // Not in the router's memory either.
    const byHash = await send({ extensions: persisted(big) }, client);
    expect(byHash.body.errors[0].extensions.code).toBe('PERSISTED_QUERY_NOT_FOUND');
  });

  it('limit registrations per client to APQ_REGISTRATIONS_PER_MINUTE, then answer 429 RATE_LIMITED with retryAfterSeconds', async () => {
    const client = newClient();
    const queries = Array.from({ length: REGISTRATIONS_PER_MINUTE }, () => newQuery('limit'));
    for (const query of queries) {
      const register = await send({ query, extensions: persisted(query) }, client);
      expect(register.body).toEqual({ data: { note: { text: 'first' } } });
    }

    const over = newQuery('overLimit');
    const refused = await send({ query: over, extensions: persisted(over) }, client);
    expect(refused.status).toBe(429);
    expect(refused.body.errors[0].extensions.code).toBe('RATE_LIMITED');
    expect(refused.body.errors[0].extensions.retryAfterSeconds).toBeGreaterThan(0);
    expect(refused.body.errors[0].extensions.retryAfterSeconds).toBeLessThanOrEqual(60);

    // Hits do not count: by hash alone, and with the query of a known hash.
    for (const query of queries) {
      const hit = await send({ extensions: persisted(query) }, client);
      expect(hit.body).toEqual({ data: { note: { text: 'first' } } });
      const again = await send({ query, extensions: persisted(query) }, client);
      expect(again.body).toEqual({ data: { note: { text: 'first' } } });
    }
    // The refused registration was not stored.
    const byHash = await send({ extensions: persisted(over) }, client);
    expect(byHash.body.errors[0].extensions.code).toBe('PERSISTED_QUERY_NOT_FOUND');
    // Another client has an allowance of its own.
    const other = await send({ query: over, extensions: persisted(over) });
    expect(other.body).toEqual({ data: { note: { text: 'first' } } });
  });

  it('refuse a hash that does not match the query with 400 PERSISTED_QUERY_HASH_MISMATCH, logging no error', async () => {
    const requestId = uniqueName('apq-mismatch');
    const query = newQuery('mismatch');
    const refused = await send(
      { query, extensions: persisted(`${query} `) },
      { ...newClient(), 'x-request-id': requestId },
    );
    expect(refused.status).toBe(400);
    expect(refused.body.errors).toEqual([
      {
        message: expect.stringMatching(/sha256Hash/),
        extensions: { code: 'PERSISTED_QUERY_HASH_MISMATCH' },
      },
    ]);
    // Positive control: the request's access log line is written, and says the same.
    const line = await eventually(() =>
      router.lines.find((l) => l.requestId === requestId && l.msg === 'graphql request'),
    );
    expect(line).toMatchObject({ status: 400, errorCodes: ['PERSISTED_QUERY_HASH_MISMATCH'] });
    expect(errorLines()).toEqual([]);
    expect(await keysOf(cache, sha256(`${query} `))).toEqual([]);
  });

  it('refuse an unknown persisted query version with 400 PERSISTED_QUERY_NOT_SUPPORTED, logging no error', async () => {
    const requestId = uniqueName('apq-version');
    const query = newQuery('version');
    const refused = await send(
      { query, extensions: persisted(query, 2) },
      { ...newClient(), 'x-request-id': requestId },
    );
    expect(refused.status).toBe(400);
    expect(refused.body.errors).toEqual([
      {
        message: expect.stringMatching(/version/),
        extensions: { code: 'PERSISTED_QUERY_NOT_SUPPORTED' },
      },
    ]);
    const line = await eventually(() =>
      router.lines.find((l) => l.requestId === requestId && l.msg === 'graphql request'),
    );
    expect(line).toMatchObject({ status: 400, errorCodes: ['PERSISTED_QUERY_NOT_SUPPORTED'] });
    expect(errorLines()).toEqual([]);
  });

  it('refuse a hash that does not match over graphql-ws as over HTTP', async () => {
    const query = newQuery('wsMismatch');
    const client = await connectWs(router.wsUrl);
    try {
      const refused = await completion(
        overWs(client, { query, extensions: persisted(`${query} `) }),
      );
      expect((refused.error as any[])[0].extensions.code).toBe('PERSISTED_QUERY_HASH_MISMATCH');
      const version = await completion(overWs(client, { query, extensions: persisted(query, 2) }));
      expect((version.error as any[])[0].extensions.code).toBe('PERSISTED_QUERY_NOT_SUPPORTED');
    } finally {
      await client.dispose();
    }
    expect(errorLines()).toEqual([]);
  });

  it('refuse a subscription registered over the limit over graphql-ws, without starting it', async () => {
    // The socket's client address is the router's peer (no X-Forwarded-For): its own allowance.
    const client = await connectWs(router.wsUrl);
    try {
      for (let i = 0; i < REGISTRATIONS_PER_MINUTE; i++) {
        const query = newQuery('wsLimit');
        const register = await completion(overWs(client, { query, extensions: persisted(query) }));
        expect(register.results).toEqual([{ data: { note: { text: 'first' } } }]);
      }
      const subscription = `subscription Apq_wsLimit_${Date.now()} { noteAdded { text } }`;
      const refused = await completion(
        overWs(client, { query: subscription, extensions: persisted(subscription) }),
      );
      expect((refused.error as any[])[0].extensions.code).toBe('RATE_LIMITED');
      expect(stack.notes.activeSubscriptions).toBe(0);
    } finally {
      await client.dispose();
    }
  });

  // Last: it stops the cache Redis.
  it('are served from the router’s memory while the cache Redis is down, and /ready does not mind', async () => {
    const query = newQuery('memory');
    const client = newClient();
    await send({ query, extensions: persisted(query) }, client);
    await eventually(async () => (await keysOf(cache, sha256(query))).length === 1, {
      what: 'the registration in the cache Redis',
    });
    await cacheRedis.stop();

    const hit = await send({ extensions: persisted(query) }, client);
    expect(hit.body).toEqual({ data: { note: { text: 'first' } } });
    // A new registration still runs; it is kept in memory only.
    const fresh = newQuery('whileDown');
    const register = await send({ query: fresh, extensions: persisted(fresh) }, client);
    expect(register.body).toEqual({ data: { note: { text: 'first' } } });
    const ready = await fetch(router.url.replace(/\/graphql$/, '/ready'));
    expect(ready.status).toBe(200);
  });
});
