import { readFileSync } from 'node:fs';
import { parse } from 'graphql';
import { createTokenSigner, type KeyMaterial } from '@arcadia/auth';
import type { Logger } from '@arcadia/observability';
import { createSubgraphServer, type SubgraphServer } from '@arcadia/subgraph-kit';
import { createContext, type AccountsContext } from './context.js';
import type { AccountsConfig } from './env.js';
import { createPasswordHasher } from './passwords.js';
import { resolvers } from './resolvers/index.js';
import type { Store } from './store.js';

/** The SDL, read next to the package so tests, tsx and composition use the same file. */
export const typeDefs = parse(readFileSync(new URL('../schema.graphql', import.meta.url), 'utf8'));

/** What the accounts subgraph is built from; `src/index.ts` opens them, tests make their own. */
export interface AccountsServerDeps {
  readonly config: AccountsConfig;
  readonly keys: KeyMaterial;
  readonly store: Store;
  readonly logger: Logger;
}

/**
 * Builds the accounts subgraph without listening, so tests can start it on a
 * free port. Closing it drains requests, then closes the store.
 */
export function createServer(deps: AccountsServerDeps): SubgraphServer {
  const { config, keys, store, logger } = deps;
  const contextDeps = {
    config,
    store,
    tokenSigner: createTokenSigner(keys.jwtKeys),
    passwords: createPasswordHasher({
      memoryKib: config.ARGON2_MEMORY_KIB,
      timeCost: config.ARGON2_TIME_COST,
      parallelism: config.ARGON2_PARALLELISM,
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
    readiness: () => store.ping(),
    onClose: () => store.close(),
  });
}
