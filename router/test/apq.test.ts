import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { PersistedQueryCache, type StringCache } from '../src/apq-cache.js';
import { persistedQueryRefusal, type PersistedQueryCheckOptions } from '../src/apq.js';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** A shared cache in a Map that counts what reaches it. */
function sharedCache() {
  const entries = new Map<string, string>();
  const calls = { get: 0, set: 0 };
  const cache: StringCache = {
    get: (key) => {
      calls.get++;
      return Promise.resolve(entries.get(key));
    },
    set: (key, value) => {
      calls.set++;
      entries.set(key, value);
      return Promise.resolve();
    },
    delete: (key) => Promise.resolve(entries.delete(key)),
  };
  return { cache, entries, calls };
}

describe('the persisted-query cache', () => {
  it('serves what it stored from memory, without asking the shared cache', async () => {
    const shared = sharedCache();
    const cache = new PersistedQueryCache(shared.cache, { maxBytes: 1024, defaultTtlSeconds: 60 });
    await cache.set('apq:a', '{ a }');
    expect(shared.entries.get('apq:a')).toBe('{ a }');
    expect(await cache.get('apq:a')).toBe('{ a }');
    expect(shared.calls.get).toBe(0);
  });

  it('asks the shared cache on a miss and keeps what it finds', async () => {
    const shared = sharedCache();
    shared.entries.set('apq:b', '{ b }');
    const cache = new PersistedQueryCache(shared.cache, { maxBytes: 1024, defaultTtlSeconds: 60 });
    expect(await cache.get('apq:b')).toBe('{ b }');
    expect(await cache.get('apq:b')).toBe('{ b }');
    expect(shared.calls.get).toBe(1);
    expect(await cache.get('apq:none')).toBeUndefined();
  });

  it('holds at most maxBytes, dropping the least recently used entries', async () => {
    const shared = sharedCache();
    // Each entry: (5 + 95) characters, 200 bytes; three fit in 600.
    const cache = new PersistedQueryCache(shared.cache, { maxBytes: 600, defaultTtlSeconds: 60 });
    const value = 'x'.repeat(95);
    for (const key of ['apq:1', 'apq:2', 'apq:3']) await cache.set(key, value);
    await cache.get('apq:1'); // now the most recently used
    await cache.set('apq:4', value);
    shared.calls.get = 0;
    for (const key of ['apq:1', 'apq:3', 'apq:4']) await cache.get(key);
    expect(shared.calls.get).toBe(0);
    await cache.get('apq:2');
    expect(shared.calls.get).toBe(1);
  });
});

describe('persisted-query checks', () => {
  const query = '{ note(id: "n1") { text } }';
  const request = (extensions: Record<string, unknown>, q = query) => ({ query: q, extensions });
  /** A lookup by hash alone: no query. */
  const byHash = (extensions: Record<string, unknown>) => ({ extensions });
  const pq = (overrides: Record<string, unknown> = {}) => ({
    persistedQuery: { version: 1, sha256Hash: sha256(query), ...overrides },
  });

  function checks(known: string[] = [], allowance = 1) {
    const counted: string[] = [];
    const options: PersistedQueryCheckOptions = {
      cache: { get: (key) => Promise.resolve(known.includes(key) ? query : undefined) },
      maxQueryBytes: 100,
      registrations: (client) => {
        counted.push(client);
        return Promise.resolve(counted.length > allowance ? 7.2 : undefined);
      },
    };
    return { options, counted };
  }
  const refusal = async (
    req: { query?: string; extensions: Record<string, unknown> },
    options: PersistedQueryCheckOptions,
  ) => (await persistedQueryRefusal(req, () => 'client', options))?.extensions;

  it('leave requests without the extension, and lookups by hash alone, to Apollo', async () => {
    const { options, counted } = checks();
    expect(await refusal(request({}), options)).toBeUndefined();
    expect(await refusal(byHash(pq()), options)).toBeUndefined();
    expect(counted).toEqual([]);
  });

  it('refuse a version other than 1 with PERSISTED_QUERY_NOT_SUPPORTED, even by hash alone', async () => {
    const { options } = checks();
    expect(await refusal(byHash(pq({ version: 2 })), options)).toMatchObject({
      code: 'PERSISTED_QUERY_NOT_SUPPORTED',
      http: { status: 400 },
    });
  });

  it('refuse a hash that is not the query’s, or not a string, with PERSISTED_QUERY_HASH_MISMATCH', async () => {
    const { options, counted } = checks();
    for (const sha256Hash of [sha256(`${query} `), sha256(query).toUpperCase(), 42]) {
      expect(await refusal(request(pq({ sha256Hash })), options)).toMatchObject({
        code: 'PERSISTED_QUERY_HASH_MISMATCH',
        http: { status: 400 },
      });
    }
    expect(counted).toEqual([]);
  });

  it('refuse a query over maxQueryBytes (counted in UTF-8) with PERSISTED_QUERY_TOO_LARGE', async () => {
    const { options, counted } = checks();
    // 51 characters, 103 bytes.
    const wide = `{ note(id: "${'€'.repeat(26)}") { text } }`;
    expect(wide.length).toBeLessThan(100);
    expect(
      await refusal(
        request({ persistedQuery: { version: 1, sha256Hash: sha256(wide) } }, wide),
        options,
      ),
    ).toMatchObject({ code: 'PERSISTED_QUERY_TOO_LARGE', maxBytes: 100, http: { status: 400 } });
    expect(counted).toEqual([]);
  });

  it('count only registrations of unknown hashes, and refuse the one over the allowance with RATE_LIMITED', async () => {
    const { options, counted } = checks([`apq:${sha256(query)}`], 1);
    expect(await refusal(request(pq()), options)).toBeUndefined();
    expect(counted).toEqual([]);

    const other = '{ note(id: "n2") { text } }';
    const registration = request(
      { persistedQuery: { version: 1, sha256Hash: sha256(other) } },
      other,
    );
    expect(await refusal(registration, options)).toBeUndefined();
    expect(await refusal(registration, options)).toMatchObject({
      code: 'RATE_LIMITED',
      retryAfterSeconds: 8,
      http: { status: 429 },
    });
    expect(counted).toEqual(['client', 'client']);
  });
});
