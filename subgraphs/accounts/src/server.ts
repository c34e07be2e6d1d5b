import { readFileSync } from 'node:fs';
import { parse } from 'graphql';
import { createTokenSigner, type KeyMaterial } from '@arcadia/auth';
import type { Logger } from '@arcadia/observability';
import type { Redis } from 'ioredis';
import { Counter, createMetricsRegistry } from '@arcadia/observability';
import { createSubgraphServer, type SubgraphServer } from '@arcadia/subgraph-kit';
import { createContext, type AccountsContext } from './context.js';
import type { AccountsConfig } from './env.js';
import { createPasswordHasher } from './passwords.js';
import { resolvers } from './resolvers/index.js';
import { createSessionRevoker } from './session-revocations.js';
import { createSignInLimits } from './sign-in-limits.js';
import type { Store } from './store.js';

/** The SDL, read next to the package so tests, tsx and composition use the same file. */
export const typeDefs = parse(readFileSync(new URL('../schema.graphql', import.meta.url), 'utf8'));

/** What the accounts subgraph is built from; `src/index.ts` opens them, tests make their own. */
export interface AccountsServerDeps {
  readonly config: AccountsConfig;
  readonly keys: KeyMaterial;
  readonly store: Store;
  readonly logger: Logger;
  /** Where the brute-force limits are counted and sessions revoked; closed with the server. */
  readonly redis: Redis;
}

/**
 * Builds the accounts subgraph without listening, so tests can start it on a
 * free port. Closing it drains requests, then closes the store.
 */
export function createServer(deps: AccountsServerDeps): SubgraphServer {
  const { config, keys, store, logger, redis } = deps;
  const metrics = createMetricsRegistry('accounts');
  const passwordHashes = new Counter({
    name: 'accounts_password_hashes_total',
    help: 'argon2 computations (sign-up, sign-in, dummy verifications): the CPU sign-ins cost.',
    registers: [metrics],
  });
  const contextDeps = {
    config,
    store,
    tokenSigner: createTokenSigner(keys.jwtKeys),
    passwords: createPasswordHasher(
      {
        memoryKib: config.ARGON2_MEMORY_KIB,
        timeCost: config.ARGON2_TIME_COST,
        parallelism: config.ARGON2_PARALLELISM,
      },
      () => passwordHashes.inc(),
    ),
    limits: createSignInLimits(redis, config.REDIS_KEY_PREFIX, {
      maxFailures: config.SIGN_IN_MAX_FAILURES,
      maxFailuresPerAddress: config.SIGN_IN_MAX_FAILURES_PER_ADDRESS,
      windowSeconds: config.SIGN_IN_WINDOW_SECONDS,
      blockSeconds: config.SIGN_IN_BLOCK_SECONDS,
      maxBlockSeconds: config.SIGN_IN_MAX_BLOCK_SECONDS,
    }),
    sessions: createSessionRevoker(redis, {
      prefix: config.SESSION_REVOCATION_PREFIX,
      // An access token signed just before the revocation lives this long.
      ttlSeconds: config.ACCESS_TOKEN_TTL_SECONDS + 60,
    }),
  };
  return createSubgraphServer<AccountsContext>({
    name: 'accounts',
    typeDefs,
    // The generated types are stricter than @apollo/subgraph's resolver map.
    resolvers: resolvers as never,
    internalSecrets: keys.internalSecrets,
    logger,
    context: (base) => createContext(base, contextDeps),
    metrics,
    readiness: () => store.ping(),
    onClose: async () => {
      await store.close();
      await redis.quit().catch(() => redis.disconnect());
    },
  });
}
