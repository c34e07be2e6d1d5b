/**
 * The whole current system in the test process, for end-to-end tests: the
 * router in front of accounts, media and chat (each on stores of this run
 * only, from its `/testing` entry point) and a media worker on media's queue,
 * all on free ports. Clients (the SDK, a browser) reach it only through the
 * router's URL, as they would in production.
 *
 * ```ts
 * const system = await startSystem({ accountsEnv: { ACCESS_TOKEN_TTL_SECONDS: '2' } });
 * const client = createArcadiaClient({ url: system.url, webSocketImpl: WebSocket });
 * // …
 * await system.stop();
 * ```
 */
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { accountsSubgraph, TEST_PASSWORD, type AccountsUnderTest } from '@arcadia/accounts/testing';
import { chatSubgraph, type ChatUnderTest } from '@arcadia/chat/testing';
import { mediaSubgraph, type MediaUnderTest } from '@arcadia/media/testing';
import { parseMediaWorkerEnv } from '@arcadia/media-worker/env';
import { startMediaWorker, type MediaWorker } from '@arcadia/media-worker/run';
import { startSubgraphHarness, uniqueName, type SubgraphHarness } from '@arcadia/testing';

/** A role of the accounts domain (`enum Role` of the API). */
export type Role = Parameters<ReturnType<AccountsUnderTest['store']['session']>['addRole']>[1];

/** What {@link startSystem} starts; every map overrides variables of one piece. */
export interface SystemOptions {
  /**
   * Router variables, e.g. `CORS_ORIGINS`, `WS_IDLE_TIMEOUT_MS`. Token
   * lifetimes are accounts' (it issues the tokens): see `accountsEnv`.
   */
  routerEnv?: Record<string, string>;
  /**
   * Accounts variables: `ACCESS_TOKEN_TTL_SECONDS` (access-token lifetime,
   * 900 by default), `REFRESH_TOKEN_TTL_DAYS`, `REFRESH_REUSE_INTERVAL_SECONDS`
   * (30: a spent refresh token presented again within it gets the same pair
   * instead of revoking), `SIGN_IN_MAX_FAILURES` (10), `ADMIN_EMAILS`, …
   */
  accountsEnv?: Record<string, string>;
  /** Media variables (upload limits, …). */
  mediaEnv?: Record<string, string>;
  /** Chat variables (rate limits, …). */
  chatEnv?: Record<string, string>;
  /** Media worker variables, or `false` for no worker (images then stay PROCESSING). */
  mediaWorker?: Record<string, string> | false;
}

/** A user signed up through the router, with what a client needs to sign in again. */
export interface SystemUser {
  readonly id: string;
  readonly handle: string;
  readonly displayName: string;
  readonly email: string;
  readonly password: string;
  /** An access token carrying the user's roles (for `Authorization: Bearer`). */
  readonly token: string;
  readonly refreshToken: string;
}

/** The running system of one test file. */
export interface ArcadiaSystem {
  /** The router's `http://127.0.0.1:<port>/graphql`. */
  readonly url: string;
  /** The router's `ws://127.0.0.1:<port>/graphql`. */
  readonly wsUrl: string;
  /** The harness underneath: `request`, `subscribe`, `subscribers`, `supergraph`, … */
  readonly harness: SubgraphHarness<ChatUnderTest>;
  readonly accounts: AccountsUnderTest;
  readonly media: MediaUnderTest;
  readonly chat: ChatUnderTest;
  /**
   * Signs a new user up through the router (handle `<prefix>_<random>`,
   * email `<handle>@example.com`, a fixed password) and grants `roles`;
   * the returned tokens come from a sign-in after the grants, so they carry them.
   */
  signUp(options?: { prefix?: string; roles?: Role[] }): Promise<SystemUser>;
  /** A new user holding ADMIN. */
  makeAdmin(options?: { prefix?: string }): Promise<SystemUser>;
  /**
   * Grants a role straight in the accounts store, as an operator would; it is
   * in the user's tokens from their next sign-in or refresh on.
   */
  grantRole(userId: string, role: Role): Promise<void>;
  /** WebSocket connections the router holds open now. */
  openSockets(): number;
  /**
   * Drops every WebSocket connection of the router at the TCP level (no
   * close frame, as when a network goes away); resolves to how many.
   */
  dropSockets(): number;
  /** Stops the worker, then the router, subgraphs and stores (dropping this run's databases, keyspace, buckets). */
  stop(): Promise<void>;
}

/**
 * Starts the router, accounts, media, chat and a media worker, in process,
 * on free ports and stores of this run only. Chat is the harness' subject
 * (the last started) because it calls accounts, which must already listen.
 */
export async function startSystem(options: SystemOptions = {}): Promise<ArcadiaSystem> {
  const harness = await startSubgraphHarness({
    peers: [accountsSubgraph(options.accountsEnv), mediaSubgraph(options.mediaEnv)],
    subject: chatSubgraph(options.chatEnv),
    routerEnv: {
      // Persisted queries and limits of this run's own: APQ starts empty.
      REDIS_KEY_PREFIX: `${uniqueName('router')}:`,
      ...options.routerEnv,
    },
  });
  const [accounts, media] = harness.peers as [AccountsUnderTest, MediaUnderTest];
  const chat = harness.subject;

  let worker: MediaWorker | undefined;
  if (options.mediaWorker !== false) {
    try {
      worker = startMediaWorker({
        config: parseMediaWorkerEnv({
          ...process.env,
          LOG_LEVEL: 'silent',
          REDIS_URL: media.config.REDIS_URL,
          QUEUE_PREFIX: media.config.QUEUE_PREFIX,
          PUBSUB_PREFIX: media.config.PUBSUB_PREFIX,
          DATABASE_URL: media.config.DATABASE_URL,
          MEDIA_CONCURRENCY: '2',
          ...options.mediaWorker,
        }),
        store: media.store,
        storage: media.storage,
        pubsub: media.pubsub,
        queue: media.queue,
        logger: media.logger,
      });
    } catch (error) {
      await harness.stop();
      throw error;
    }
  }

  // The router's upgraded connections, to drop them as a network would.
  const sockets = new Set<Socket>();
  harness.supergraph.router.httpServer.on('upgrade', (_request, socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });

  const grantRole = async (userId: string, role: Role) => {
    if (!(await accounts.store.session().addRole(userId, role))) {
      throw new Error(`no user ${userId} to grant ${role}`);
    }
  };

  const signUp: ArcadiaSystem['signUp'] = async ({ prefix = 'e2e', roles = [] } = {}) => {
    const tag = randomBytes(5).toString('hex');
    const handle = `${prefix}_${tag}`.slice(0, 24);
    const displayName = `User ${tag}`;
    const email = `${handle}@example.com`;
    const password = TEST_PASSWORD;
    const session = 'accessToken refreshToken user { id }';
    const signedUp = await harness.request<{
      signUp: { accessToken: string; refreshToken: string; user: { id: string } };
    }>(`mutation ($input: SignUpInput!) { signUp(input: $input) { ${session} } }`, {
      variables: { input: { handle, email, password, displayName } },
    });
    if (!signedUp.data?.signUp) throw new Error(`sign-up failed: ${JSON.stringify(signedUp)}`);
    let tokens = signedUp.data.signUp;
    if (roles.length) {
      for (const role of roles) await grantRole(tokens.user.id, role);
      const signedIn = await harness.request<{ signIn: typeof tokens }>(
        `mutation ($email: String!, $password: String!) { signIn(email: $email, password: $password) { ${session} } }`,
        { variables: { email, password } },
      );
      if (!signedIn.data?.signIn) throw new Error(`sign-in failed: ${JSON.stringify(signedIn)}`);
      tokens = signedIn.data.signIn;
    }
    return {
      id: tokens.user.id,
      handle,
      displayName,
      email,
      password,
      token: tokens.accessToken,
      refreshToken: tokens.refreshToken,
    };
  };

  return {
    url: harness.url,
    wsUrl: harness.wsUrl,
    harness,
    accounts,
    media,
    chat,
    signUp,
    makeAdmin: ({ prefix = 'admin' } = {}) => signUp({ prefix, roles: ['ADMIN'] }),
    grantRole,
    openSockets: () => sockets.size,
    dropSockets() {
      const count = sockets.size;
      for (const socket of sockets) socket.destroy();
      sockets.clear();
      return count;
    },
    async stop() {
      // The worker first: it uses media's store and queue, which the harness closes.
      try {
        await worker?.close(true);
      } finally {
        await harness.stop();
      }
    },
  };
}
