/**
 * The accounts subgraph as a peer in another subgraph's test supergraph
 * (`@arcadia/accounts/testing`): its own database, cheap password hashing,
 * and sign-up through the router as a client would.
 */
import { randomBytes } from 'node:crypto';
import type { KeyMaterial } from '@arcadia/auth';
import { createLogger } from '@arcadia/observability';
import type { SubgraphServer } from '@arcadia/subgraph-kit';
import { createTestDatabase, type GraphQLResponse } from '@arcadia/testing';
import { parseAccountsEnv } from '../src/env.js';
import { createServer } from '../src/server.js';
import { openStore } from '../src/store.js';

/** A signed-up user. */
export interface PeerUser {
  readonly id: string;
  readonly handle: string;
  readonly displayName: string;
  readonly token: string;
}

/** How a test reaches the router. */
export type RouterRequest = <TData = Record<string, any>>(
  query: string,
  options?: { variables?: Record<string, unknown>; token?: string | null },
) => Promise<GraphQLResponse<TData>>;

/** The accounts peer of one test supergraph. */
export interface AccountsPeer {
  /** The subgraph to start with the others (the supergraph closes it). */
  readonly subgraph: SubgraphServer;
  /**
   * Signs up a new user through `request` (the router); `admin` grants ADMIN
   * in accounts' database and signs in again, so the token carries it.
   */
  signUp(request: RouterRequest, options?: { prefix?: string; admin?: boolean }): Promise<PeerUser>;
  /** Drops the database once the subgraph is closed. */
  drop(): Promise<void>;
}

const PASSWORD = 'correct horse battery staple';

/** Creates accounts on a fresh database, with the test's keys. */
export async function startAccountsPeer(keys: KeyMaterial): Promise<AccountsPeer> {
  const db = await createTestDatabase('peer_accounts');
  // Cheap argon2 so suites stay fast; production keeps OWASP's defaults.
  const config = parseAccountsEnv({
    LOG_LEVEL: 'silent',
    ARGON2_MEMORY_KIB: '1024',
    ARGON2_TIME_COST: '1',
    DATABASE_URL: db.url,
  });
  const logger = createLogger('accounts', 'silent');
  const store = await openStore({ databaseUrl: db.url, logger });
  return {
    subgraph: createServer({ config, keys, store, logger }),
    async signUp(request, options = {}) {
      const tag = randomBytes(5).toString('hex');
      const handle = `${options.prefix ?? 'user'}_${tag}`;
      const displayName = `User ${tag}`;
      const email = `${handle}@example.com`;
      const signedUp = await request<{ signUp: { accessToken: string; user: { id: string } } }>(
        'mutation ($input: SignUpInput!) { signUp(input: $input) { accessToken user { id } } }',
        { variables: { input: { handle, email, password: PASSWORD, displayName } } },
      );
      if (!signedUp.data?.signUp) throw new Error(JSON.stringify(signedUp.errors));
      const id = signedUp.data.signUp.user.id;
      let token = signedUp.data.signUp.accessToken;
      if (options.admin) {
        await store.session().addRole(id, 'ADMIN');
        const signedIn = await request<{ signIn: { accessToken: string } }>(
          'mutation ($email: String!, $password: String!) { signIn(email: $email, password: $password) { accessToken } }',
          { variables: { email, password: PASSWORD } },
        );
        if (!signedIn.data?.signIn) throw new Error(JSON.stringify(signedIn.errors));
        token = signedIn.data.signIn.accessToken;
      }
      return { id, handle, displayName, token };
    },
    drop: () => db.drop(),
  };
}
