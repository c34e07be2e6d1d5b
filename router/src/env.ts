import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { env, parseEnv, servicesEnv } from '@arcadia/config';
import { SESSION_REVOCATION_PREFIX_DEFAULT } from '@arcadia/auth';
import { PRESENCE_PREFIX_DEFAULT, PRESENCE_TTL_SECONDS_DEFAULT } from '@arcadia/presence';

/** The composed supergraph of this repository (`npm run compose` writes it). */
const defaultSupergraphPath = fileURLToPath(
  new URL('../../schema/supergraph.graphql', import.meta.url),
);

/**
 * Local development tools and Apollo Studio's hosted Sandbox. `:*` stands for
 * any port, `*` elsewhere for one DNS label (see `cors.ts`).
 */
const defaultCorsOrigins = [
  'http://localhost:*',
  'http://127.0.0.1:*',
  'https://studio.apollographql.com',
];

const shape = {
  PORT: env.port(4000),
  /** Interface to listen on; 0.0.0.0 so a container's port mapping reaches it. */
  HOST: z.string().default('0.0.0.0'),
  ...servicesEnv.metrics(9400),
  /** Federation 2 supergraph SDL the router serves (read by main.ts only). */
  SUPERGRAPH_PATH: z.string().default(defaultSupergraphPath),
  /** `name=url,…`: replaces the URL the supergraph's join__graph gives a subgraph. */
  SUBGRAPH_URLS: env.map(),
  /** Verify access tokens against this JWKS instead of the local key material. */
  JWKS_URL: z.url().optional(),
  /** Browser origins allowed to call the router; `*` allows any origin. */
  CORS_ORIGINS: env.list(defaultCorsOrigins),
  MAX_DEPTH: env.int(15),
  MAX_ALIASES: env.int(30),
  MAX_COST: env.int(5000),
  MAX_TOKENS: env.int(5000),
  MAX_ROOT_FIELDS: env.int(20),
  MAX_DIRECTIVES: env.int(50),
  /**
   * `ofType` fields along one path of an introspection query. The standard
   * query (graphql-js's, which Sandbox and graphql-codegen send) has 9.
   */
  MAX_INTROSPECTION_DEPTH: env.int(10),
  /** Largest accepted request body, in `bytes` notation (`100kb`, `1mb`). */
  BODY_LIMIT: z
    .string()
    .regex(/^\d+(\.\d+)?\s*(b|kb|mb)?$/i, 'expected a size such as 100kb or 1mb')
    .default('100kb'),
  /** Time a connection has to send a request's headers (from connecting, or its previous response); 408 then. */
  HTTP_HEADERS_TIMEOUT_MS: z.coerce.number().int().min(1).default(10_000),
  /** Time a connection has to send a whole request (at least HTTP_HEADERS_TIMEOUT_MS); 408 then. */
  HTTP_REQUEST_TIMEOUT_MS: z.coerce.number().int().min(1).default(30_000),
  /** Time a graphql-ws socket has to send `connection_init`; closed with 4408 then. */
  WS_INIT_TIMEOUT_MS: z.coerce.number().int().min(1).default(3_000),
  /** Time an acknowledged graphql-ws socket may stay without an operation; closed with 1000 "Idle timeout" then. */
  WS_IDLE_TIMEOUT_MS: z.coerce.number().int().min(1).default(30_000),
  /**
   * Open connections (HTTP keep-alive and WebSocket) per client address;
   * more are refused with HTTP 429. 0: no cap (behind a proxy that does not
   * forward the client's address, every client shares the proxy's).
   */
  MAX_CONNECTIONS_PER_CLIENT: z.coerce.number().int().min(0).default(100),
  /**
   * Proxies (IP addresses or CIDR ranges) whose `X-Forwarded-For` names the
   * client; empty: nobody's, the client is the TCP peer. The client address
   * is what per-client limits count (connections, sign-in attempts).
   */
  TRUSTED_PROXIES: env.list().pipe(z.array(z.union([z.ipv4(), z.ipv6(), z.cidrv4(), z.cidrv6()]))),
  /** Schema introspection for Sandbox and codegen; the schema is public API anyway. */
  INTROSPECTION: env.bool(true),
  /**
   * Concurrent identical queries (document, variables, caller scope) execute
   * once, and identical in-flight subgraph fetches of queries share one
   * request (see `dedupe.ts`). In flight only: nothing is cached.
   */
  DEDUPLICATE_INFLIGHT: env.bool(true),
  /**
   * What runs query plans: `arcadia` (the router's own executor,
   * `src/execution`) or `gateway` (@apollo/gateway's; the same responses,
   * slower — kept to compare and to fall back on).
   */
  EXECUTOR: z.enum(['arcadia', 'gateway']).default('arcadia'),
  /**
   * Most fetches to one subgraph sent together in one POST of an array
   * (the subgraph kit's batch format): the fetches made in one turn of the
   * event loop, across operations, each signed for its own caller. 1 sends
   * every fetch on its own (for subgraphs that do not take batches).
   */
  SUBGRAPH_BATCH_MAX: z.coerce.number().int().min(1).max(1_000).default(64),
  /**
   * Most bytes of fetches in one batch (their JSON text): below the
   * subgraphs' body limit (1 MB by default), so that fetches that each fit
   * it are never refused together. A fetch larger than this goes alone.
   */
  SUBGRAPH_BATCH_MAX_BYTES: z.coerce
    .number()
    .int()
    .min(1_024)
    .default(512 * 1024),
  /** Per-fetch budget for one subgraph request, headers and body included. */
  SUBGRAPH_TIMEOUT_MS: z.coerce.number().int().min(1).default(10_000),
  /** How long `/ready` waits for each subgraph's `/health`. */
  READY_TIMEOUT_MS: z.coerce.number().int().min(1).default(1_000),
  /**
   * How long a registered persisted query stays cached. A day, not the week
   * it was: when a hash expires, the next client to send it gets
   * PERSISTED_QUERY_NOT_FOUND and registers it again (one extra round trip
   * per operation and day, for all clients together), while a registration
   * nobody uses holds cache memory for a day instead of seven.
   */
  APQ_TTL_SECONDS: z.coerce
    .number()
    .int()
    .min(1)
    .default(24 * 3600),
  /**
   * Largest query, in UTF-8 bytes, the router registers as a persisted
   * query; a larger registration is refused with PERSISTED_QUERY_TOO_LARGE
   * (send it without the persistedQuery extension). Within BODY_LIMIT.
   */
  APQ_MAX_QUERY_BYTES: z.coerce
    .number()
    .int()
    .min(1)
    .default(32 * 1024),
  /**
   * Registrations (a query with the hash of a persisted query not known yet)
   * per client per minute: per user when signed in, else per client address
   * (behind a proxy, list it in TRUSTED_PROXIES, or every anonymous client
   * shares its address); more are refused with RATE_LIMITED. Hits by hash
   * never count.
   */
  APQ_REGISTRATIONS_PER_MINUTE: z.coerce.number().int().min(1).default(60),
  /** Bytes of persisted queries each router keeps in memory (LRU) in front of APQ_REDIS_URL. */
  APQ_MEMORY_CACHE_BYTES: z.coerce
    .number()
    .int()
    .min(1)
    .default(16 * 1024 * 1024),
  ...servicesEnv.cacheRedis,
  /** Namespace of the router's Redis keys, so deployments and tests can share a server. */
  REDIS_KEY_PREFIX: z.string().default('arcadia:router:'),
  /**
   * Namespace of the presence keys. Not REDIS_KEY_PREFIX: the services that
   * read presence (chat, social) must find the keys the router writes, so
   * every one of them configures this same value.
   */
  PRESENCE_PREFIX: z.string().default(PRESENCE_PREFIX_DEFAULT),
  /**
   * Namespace of the revoked-session keys and channel accounts writes
   * (sign-out, refresh-token reuse); the same value as accounts'.
   */
  SESSION_REVOCATION_PREFIX: z.string().min(1).default(SESSION_REVOCATION_PREFIX_DEFAULT),
  /**
   * How long a "session not revoked" answer is reused before Redis is asked
   * again. Revocations are also announced to every router at once; this
   * bounds how late one is seen if an announcement is missed.
   */
  SESSION_CHECK_CACHE_MS: z.coerce.number().int().min(1).max(1_000).default(500),
  /** A signed-in user's socket counts as live this long after its last heartbeat (sent every third of it). */
  PRESENCE_TTL_SECONDS: z.coerce.number().int().min(1).default(PRESENCE_TTL_SECONDS_DEFAULT),
  /** Reconnection attempts to a subgraph's subscription socket before clients get an error. */
  SUBSCRIPTION_RETRY_ATTEMPTS: env.int(8),
  /** First reconnection wait; doubles per attempt up to SUBSCRIPTION_RETRY_MAX_MS. */
  SUBSCRIPTION_RETRY_BASE_MS: env.int(500),
  SUBSCRIPTION_RETRY_MAX_MS: env.int(30_000),
  /** Events queued for one client subscription before the client counts as too slow and is cut off. */
  SUBSCRIPTION_CLIENT_BUFFER: env.int(1_000),
  /** Bytes a client's WebSocket may have unsent before the client is cut off as too slow. */
  SUBSCRIPTION_SOCKET_BUFFER_BYTES: env.int(4 * 1024 * 1024),
  /**
   * Lifetime of the caller signature that opens a subscription socket to a
   * subgraph; the subgraph closes the socket when it expires, and the router
   * moves each socket to a freshly signed one at four fifths of it (at
   * least 5 s before it expires).
   */
  SUBGRAPH_SOCKET_SIGNATURE_SECONDS: z.coerce.number().int().min(10).default(300),
  LOG_LEVEL: env.logLevel(),
  NODE_ENV: env.nodeEnv(),
  ...servicesEnv.redis,
  ...servicesEnv.keys,
};

/** The router's validated, frozen configuration. */
export type RouterConfig = ReturnType<typeof parseRouterEnv>;

/**
 * Reads the router configuration from `source`; every variable has a
 * localhost default. Throws a ConfigError listing every invalid variable.
 */
export function parseRouterEnv(source: Record<string, string | undefined> = process.env) {
  return parseEnv('router', shape, source);
}
