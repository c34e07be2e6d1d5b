/**
 * Starts the accounts subgraph on its own test database, behind the real
 * router (`startSupergraph`), for one test file. Clients' requests go
 * through the router exactly as in production; `requestSubgraph` reaches the
 * subgraph itself for what only other subgraphs can ask (`_entities`).
 */
import pg from 'pg';
import {
  ANONYMOUS,
  CALLER_HEADER,
  createCallerSigner,
  type Caller,
  type KeyMaterial,
} from '@arcadia/auth';
import { createLogger } from '@arcadia/observability';
import {
  createTestDatabase,
  startSupergraph,
  testKeyMaterial,
  type GraphQLResponse,
  type TestDatabase,
} from '@arcadia/testing';
import { parseAccountsEnv, type AccountsConfig } from '../src/env.js';
import { createServer } from '../src/server.js';
import { openStore, type Store } from '../src/store.js';

export type { GraphQLResponse };

/** The running subgraph of one test file. */
export interface AccountsHarness {
  readonly config: AccountsConfig;
  readonly keys: KeyMaterial;
  readonly db: TestDatabase;
  readonly store: Store;
  /** The accounts subgraph's own URL (for `_entities`, `/ready`). */
  readonly subgraphUrl: string;
  /** Sends an operation as a client would, with a bearer token when given. */
  request<TData = Record<string, any>>(
    query: string,
    options?: { variables?: Record<string, unknown>; token?: string | null },
  ): Promise<GraphQLResponse<TData>>;
  /** Sends an operation straight to the subgraph, signed for `caller`. */
  requestSubgraph<TData = Record<string, any>>(
    query: string,
    options?: { variables?: Record<string, unknown>; caller?: Caller },
  ): Promise<GraphQLResponse<TData>>;
  /** Runs SQL on the test database (assertions about what was written). */
  sql<TRow extends Record<string, any> = Record<string, any>>(
    text: string,
    values?: unknown[],
  ): Promise<TRow[]>;
  stop(): Promise<void>;
}

// Cheap argon2 so the suite stays fast; production keeps OWASP's defaults.
const FAST_ARGON2 = { ARGON2_MEMORY_KIB: '1024', ARGON2_TIME_COST: '1' };

/** Starts accounts on a fresh database; `env` overrides variables (ADMIN_EMAILS, TTLs, …). */
export async function startAccounts(env: Record<string, string> = {}): Promise<AccountsHarness> {
  const db = await createTestDatabase('accounts');
  const keys = await testKeyMaterial();
  const config = parseAccountsEnv({
    ...FAST_ARGON2,
    LOG_LEVEL: 'silent',
    ...env,
    DATABASE_URL: db.url,
  });
  const logger = createLogger('accounts', config.LOG_LEVEL);
  const store = await openStore({ databaseUrl: config.DATABASE_URL, logger });
  const server = createServer({ config, keys, store, logger });
  const supergraph = await startSupergraph({ subgraphs: [server], keys });
  const subgraphUrl = supergraph.subgraphUrls.accounts!;

  const signCaller = createCallerSigner(keys.internalSecrets);
  const sqlClient = new pg.Client({ connectionString: db.url });
  await sqlClient.connect();

  return {
    config,
    keys,
    db,
    store,
    subgraphUrl,
    request: (query, options) => supergraph.request(query, options),
    async requestSubgraph(query, { variables, caller } = {}) {
      const res = await fetch(subgraphUrl, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          [CALLER_HEADER]: await signCaller(caller ?? ANONYMOUS),
        },
        body: JSON.stringify({ query, variables }),
      });
      return { status: res.status, ...((await res.json()) as object) };
    },
    async sql(text, values) {
      return (await sqlClient.query(text, values)).rows;
    },
    async stop() {
      await sqlClient.end();
      // Stops the router, then the subgraph, which closes the store.
      await supergraph.stop();
      await db.drop();
    },
  };
}
