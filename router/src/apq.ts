/**
 * Automatic persisted queries (Apollo APQ) as the router serves them: what
 * may be registered, where registrations are kept, and the errors of the
 * protocol. Apollo Server runs the protocol itself (a hash alone is looked
 * up; a query with its hash is checked and registered after validation);
 * this adds to it, for every transport alike since all of them go through
 * Apollo's pipeline:
 *
 * - registrations are kept in a cache Redis of their own (APQ_REDIS_URL,
 *   evicting, bounded by `maxmemory`), behind an LRU in this process, never
 *   in the Redis of the job queues;
 * - a registration (a query whose hash is not known yet) larger than
 *   APQ_MAX_QUERY_BYTES is refused with PERSISTED_QUERY_TOO_LARGE;
 * - registrations are rate-limited per client (the user when signed in,
 *   else the client address): RATE_LIMITED with `retryAfterSeconds`;
 * - a hash that is not the query's (PERSISTED_QUERY_HASH_MISMATCH) and a
 *   version other than 1 (PERSISTED_QUERY_NOT_SUPPORTED) answer 400 with
 *   those codes, where Apollo raises errors without a code that would be
 *   masked as INTERNAL_SERVER_ERROR and logged as unexpected.
 *
 * PERSISTED_QUERY_NOT_FOUND stays Apollo's: a normal step of the protocol
 * (HTTP 200), after which clients send the query with its hash.
 */
import { createHash } from 'node:crypto';
import type { ApolloServerPlugin } from '@apollo/server';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import type { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { ErrorCode, UserError } from '@arcadia/errors';
import type { Logger } from '@arcadia/observability';
import { createRedisConnection } from '@arcadia/redis';
import { PersistedQueryCache, type StringCache } from './apq-cache.js';
import type { RouterConfig } from './env.js';
import { RedisKeyValueCache } from './redis-cache.js';
import { requestScope, type RequestRecord, type RouterContext } from './request-context.js';

/**
 * The prefix Apollo Server puts before a hash in the cache it is given
 * (its `APQ_CACHE_PREFIX`, not exported): the key to look a hash up by.
 */
const APOLLO_APQ_PREFIX = 'apq:';

/** The one APQ version there is. */
const APQ_VERSION = 1;

const REGISTRATION_WINDOW_SECONDS = 60;

const sha256Hex = (text: string) => createHash('sha256').update(text).digest('hex');

/**
 * Takes one registration from `client`'s allowance: undefined when allowed,
 * else the seconds until the next one is.
 */
export type RegistrationLimiter = (client: string) => Promise<number | undefined>;

/**
 * A {@link RegistrationLimiter} of `perMinute` registrations per client, on
 * Redis so that every router instance shares the count, under `keyPrefix`.
 * The counters live in the router's main Redis, not the evicting cache
 * Redis: a flood of registrations must not be able to evict its own count.
 */
export function registrationLimiter(
  redis: Redis,
  options: { keyPrefix: string; perMinute: number },
): RegistrationLimiter {
  const { perMinute } = options;
  const limiter = new RateLimiterRedis({
    storeClient: redis,
    keyPrefix: options.keyPrefix,
    points: perMinute,
    duration: REGISTRATION_WINDOW_SECONDS,
    // While Redis does not answer, count in this process rather than
    // refuse every registration or allow them all.
    insuranceLimiter: new RateLimiterMemory({
      points: perMinute,
      duration: REGISTRATION_WINDOW_SECONDS,
    }),
  });
  return async (client) => {
    try {
      await limiter.consume(client);
      return undefined;
    } catch (rejection) {
      if (!(rejection instanceof RateLimiterRes)) throw rejection;
      return rejection.msBeforeNext / 1000;
    }
  };
}

/** Who a registration counts against: the user when signed in, else the client address. */
export function registrationClient(context: Pick<RouterContext, 'caller' | 'record'>): string {
  const who = context.caller.userId
    ? `user:${context.caller.userId}`
    : `address:${context.record.clientAddress ?? 'unknown'}`;
  // Hashed: addresses do not belong in Redis key names.
  return createHash('sha256').update(who).digest('base64url');
}

/** What {@link persistedQueryChecks} needs. */
export interface PersistedQueryCheckOptions {
  /** The cache Apollo Server is given for persisted queries. */
  cache: Pick<StringCache, 'get'>;
  maxQueryBytes: number;
  registrations: RegistrationLimiter;
}

/**
 * Why the router refuses the persisted-query part of `request`, if it does;
 * see the module comment. Checks run cheapest first; only a registration
 * of a hash not known yet takes from the client's allowance.
 */
export async function persistedQueryRefusal(
  request: { query?: string; extensions?: Record<string, unknown> },
  client: () => string,
  options: PersistedQueryCheckOptions,
): Promise<GraphQLError | undefined> {
  // Apollo ignores a falsy extension too.
  const extension = request.extensions?.persistedQuery;
  if (!extension) return undefined;
  const { version, sha256Hash } = extension as { version?: unknown; sha256Hash?: unknown };
  if (version !== APQ_VERSION) {
    // Apollo's own code: clients stop using APQ and send full queries.
    return new GraphQLError(
      `Persisted query version ${JSON.stringify(version)} is not supported; use version ${APQ_VERSION}.`,
      { extensions: { code: 'PERSISTED_QUERY_NOT_SUPPORTED', http: { status: 400 } } },
    );
  }
  const { query } = request;
  // A hash alone: Apollo answers with the query it finds, or PERSISTED_QUERY_NOT_FOUND.
  if (query === undefined) return undefined;
  if (typeof sha256Hash !== 'string' || sha256Hash !== sha256Hex(query)) {
    return new UserError(
      ErrorCode.PERSISTED_QUERY_HASH_MISMATCH,
      'The persisted query sha256Hash is not the SHA-256 (lowercase hex) of the query.',
      {},
      { httpStatus: 400 },
    );
  }
  if (Buffer.byteLength(query, 'utf8') > options.maxQueryBytes) {
    return new UserError(
      ErrorCode.PERSISTED_QUERY_TOO_LARGE,
      `The query is larger than the ${options.maxQueryBytes} bytes a persisted query may have; send it without the persistedQuery extension.`,
      { maxBytes: options.maxQueryBytes },
      { httpStatus: 400 },
    );
  }
  // Known already: a client sending query and hash again, not a registration.
  if ((await options.cache.get(APOLLO_APQ_PREFIX + sha256Hash)) !== undefined) return undefined;
  const waitSeconds = await options.registrations(client());
  if (waitSeconds === undefined) return undefined;
  return new UserError(
    ErrorCode.RATE_LIMITED,
    'Too many persisted queries registered; send the query without the persistedQuery extension, or retry later.',
    { retryAfterSeconds: Math.max(1, Math.ceil(waitSeconds)) },
    { httpStatus: 429 },
  );
}

type FormatError = (formatted: GraphQLFormattedError, error: unknown) => GraphQLFormattedError;

/** The router's persisted queries: what `createRouter` gives Apollo Server. */
export interface PersistedQueries {
  /** Apollo Server's `persistedQueries` option. */
  readonly options: { cache: StringCache; ttl: number };
  /**
   * Refuses what {@link persistedQueryRefusal} refuses. Goes before
   * `streamingOperationsPlugin`: its `didResolveOperation` throws
   * synchronously, so that a refused subscription is never admitted.
   */
  readonly plugin: ApolloServerPlugin<RouterContext>;
  /**
   * Wraps the router's `formatError` so that Apollo's own refusals of a
   * wrong version or hash (errors without a code, raised before any plugin
   * hook that could replace them) reach the client as the coded errors
   * the plugin found for the same request, instead of masked and logged.
   */
  formatError(inner: FormatError): FormatError;
  /** Closes the connection to the cache Redis. */
  close(): Promise<void>;
}

/**
 * Persisted queries in the cache Redis of `config.APQ_REDIS_URL` (its own
 * connection), behind an in-process LRU of APQ_MEMORY_CACHE_BYTES, with
 * registrations counted in `redis` (the router's main connection). A cache
 * Redis that is away degrades to misses and unregistered queries (see
 * `RedisKeyValueCache`); the router stays ready.
 */
export function createPersistedQueries(deps: {
  config: RouterConfig;
  redis: Redis;
  logger: Logger;
}): PersistedQueries {
  const { config, logger } = deps;
  // Fails fast, as the main connection: a cache that is away is a miss.
  const cacheRedis = createRedisConnection({
    url: config.APQ_REDIS_URL,
    name: 'router-apq',
    use: 'commands',
    logger,
    commandTimeoutMs: 1_000,
  });
  const cache = new PersistedQueryCache(
    new RedisKeyValueCache(cacheRedis, {
      prefix: config.REDIS_KEY_PREFIX,
      defaultTtlSeconds: config.APQ_TTL_SECONDS,
      logger,
    }),
    { maxBytes: config.APQ_MEMORY_CACHE_BYTES, defaultTtlSeconds: config.APQ_TTL_SECONDS },
  );
  const checks: PersistedQueryCheckOptions = {
    cache,
    maxQueryBytes: config.APQ_MAX_QUERY_BYTES,
    registrations: registrationLimiter(deps.redis, {
      keyPrefix: `${config.REDIS_KEY_PREFIX}apq-registrations`,
      perMinute: config.APQ_REGISTRATIONS_PER_MINUTE,
    }),
  };
  // The refusal found for an operation, for formatError (which only has the record).
  const refusals = new WeakMap<RequestRecord, GraphQLError>();

  return {
    options: { cache, ttl: config.APQ_TTL_SECONDS },
    plugin: {
      async requestDidStart({ request, contextValue }) {
        const refusal = await persistedQueryRefusal(
          request,
          () => registrationClient(contextValue),
          checks,
        );
        if (!refusal) return undefined;
        refusals.set(contextValue.record, refusal);
        // After parsing and validation, before Apollo registers the query.
        return {
          didResolveOperation: () => {
            throw refusal;
          },
        };
      },
    },
    formatError: (inner) => (formatted, error) => {
      const record = requestScope.getStore();
      const refusal = record && refusals.get(record);
      const code = (error as { extensions?: { code?: unknown } } | undefined)?.extensions?.code;
      if (!refusal || !(error instanceof Error) || code !== undefined) {
        return inner(formatted, error);
      }
      const { http: _http, ...extensions } = refusal.extensions;
      return inner({ message: refusal.message, extensions }, refusal);
    },
    close: () => cacheRedis.close(),
  };
}
