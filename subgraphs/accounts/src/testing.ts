/**
 * The accounts subgraph for tests (`@arcadia/accounts/testing`): as the
 * subject of its own tests, or as the peer that signs users up in another
 * subgraph's, with `startSubgraphHarness` from `@arcadia/testing`:
 *
 * ```ts
 * const h = await startSubgraphHarness({ subject: mediaSubgraph(), peers: [accountsSubgraph()] });
 * const alice = await h.signUp();
 * ```
 */
import { randomBytes } from 'node:crypto';
import { createLogger } from '@arcadia/observability';
import { createRedisConnection } from '@arcadia/redis';
import type { SubgraphFactory, TestDatabase, TestSubgraph, TestUser } from '@arcadia/testing';
import { parseAccountsEnv, type AccountsConfig } from './env.js';
import { createServer } from './server.js';
import { openStore, type Store } from './store.js';

/** The accounts subgraph of one harness. */
export interface AccountsUnderTest extends TestSubgraph {
  readonly config: AccountsConfig;
  /** Its own database (`query` for assertions, `url` for the CLI). */
  readonly db: TestDatabase;
  /** The server's store (closed with it). */
  readonly store: Store;
  signUp: NonNullable<TestSubgraph['signUp']>;
}

/** The password every test user gets. */
export const TEST_PASSWORD = 'correct horse battery staple';

// Cheap argon2 so suites stay fast; production keeps OWASP's defaults.
const FAST_ARGON2 = { ARGON2_MEMORY_KIB: '1024', ARGON2_TIME_COST: '1' };

/**
 * Accounts on a database of the harness' own, with the harness' keys; `env`
 * overrides variables (ADMIN_EMAILS, token lifetimes, …).
 */
export function accountsSubgraph(
  env: Record<string, string> = {},
): SubgraphFactory<AccountsUnderTest> {
  return async ({ keys, createDatabase }) => {
    const db = await createDatabase('accounts');
    const config = parseAccountsEnv({
      ...FAST_ARGON2,
      LOG_LEVEL: 'silent',
      // Limits of the harness' own, so files running at once do not share counts.
      REDIS_KEY_PREFIX: `test:${randomBytes(6).toString('hex')}:`,
      SESSION_REVOCATION_PREFIX: `test:${randomBytes(6).toString('hex')}:sessions:`,
      ...env,
      DATABASE_URL: db.url,
    });
    const logger = createLogger('accounts', config.LOG_LEVEL);
    const store = await openStore({ databaseUrl: db.url, logger });
    const redis = createRedisConnection({
      url: config.REDIS_URL,
      name: 'accounts-limits',
      use: 'commands',
      logger,
    });
    return {
      server: createServer({ config, keys, store, logger, redis }),
      // The routers of the harness must hear of the sessions this accounts revokes.
      routerEnv: { SESSION_REVOCATION_PREFIX: config.SESSION_REVOCATION_PREFIX },
      config,
      db,
      store,
      async signUp(request, options = {}): Promise<TestUser> {
        const tag = randomBytes(5).toString('hex');
        const handle = `${options.prefix ?? 'user'}_${tag}`.slice(0, 24);
        const displayName = `User ${tag}`;
        const email = `${handle}@example.com`;
        const signedUp = await request<{ signUp: { accessToken: string; user: { id: string } } }>(
          'mutation ($input: SignUpInput!) { signUp(input: $input) { accessToken user { id } } }',
          { variables: { input: { handle, email, password: TEST_PASSWORD, displayName } } },
        );
        if (!signedUp.data?.signUp) {
          throw new Error(`sign-up failed: ${JSON.stringify(signedUp.errors)}`);
        }
        const id = signedUp.data.signUp.user.id;
        let token = signedUp.data.signUp.accessToken;
        if (options.admin) {
          await store.session().addRole(id, 'ADMIN');
          const signedIn = await request<{ signIn: { accessToken: string } }>(
            'mutation ($email: String!, $password: String!) { signIn(email: $email, password: $password) { accessToken } }',
            { variables: { email, password: TEST_PASSWORD } },
          );
          if (!signedIn.data?.signIn) {
            throw new Error(`sign-in failed: ${JSON.stringify(signedIn.errors)}`);
          }
          token = signedIn.data.signIn.accessToken;
        }
        return { id, handle, displayName, token };
      },
    };
  };
}
