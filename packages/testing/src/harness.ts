/**
 * One harness for every subgraph's tests: the subgraph under test and its
 * peers (accounts, for users) behind a real router on free ports, with
 * stores, prefixes and keyspaces of this run only, users signed up through
 * the router, graphql-ws sockets that are known to be subscribed before a
 * test goes on, and a teardown in dependency order.
 *
 * Subgraphs are not imported here: each offers its factory (what it is
 * built from, the stores it opens for assertions) from its own
 * `@arcadia/<name>/testing` entry point, and tests pass them in.
 */
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import {
  ANONYMOUS,
  CALLER_HEADER,
  createCallerSigner,
  type Caller,
  type KeyMaterial,
} from '@arcadia/auth';
import { parseEnv, servicesEnv } from '@arcadia/config';
import { createRedisConnection, type RedisConnection } from '@arcadia/redis';
import { childSubgraph } from './child-subgraph.js';
import { uniqueName } from './ids.js';
import { createTestDatabase, type TestDatabase } from './postgres.js';
import {
  startSupergraph,
  testKeyMaterial,
  type GraphQLResponse,
  type StartableSubgraph,
  type TestSupergraph,
} from './supergraph.js';
import { eventually } from './wait.js';

/** A user signed up through the router. */
export interface TestUser {
  readonly id: string;
  readonly handle: string;
  readonly displayName: string;
  /** An access token for `Authorization: Bearer`. */
  readonly token: string;
}

/** How a test reaches the router: an operation POSTed as a client would. */
export type RouterRequest = TestSupergraph['request'];

/** How {@link TestSubgraph.signUp} makes a user. */
export interface SignUpOptions {
  /** Start of the handle (the rest is random). */
  prefix?: string;
  /** Also grants ADMIN, signing in again so the token carries it. */
  admin?: boolean;
}

/**
 * What the harness gives a subgraph's factory: the run's keys, and names,
 * databases and clean-ups that are this run's own.
 */
export interface SubgraphTestContext {
  /** Signing keys of the run: the router and every subgraph share them. */
  readonly keys: KeyMaterial;
  /** The environment to read service addresses from (the process's, unless the test gives one). */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** A name no other run uses (lowercase letters, digits, `_`): keyspaces, queue and pub/sub prefixes. */
  readonly uniqueName: (prefix: string) => string;
  /** A new PostgreSQL database, dropped when the harness stops. */
  readonly createDatabase: (prefix: string) => Promise<TestDatabase>;
  /**
   * Runs `cleanup` when the harness stops, after the router and every
   * subgraph have closed; the last registered runs first. For the stores,
   * queues and buckets a factory opens besides the server's own.
   */
  readonly onStop: (cleanup: () => unknown) => void;
  /** Runs a subgraph as its own Node process (benchmarks); see {@link childSubgraph}. */
  readonly childSubgraph: typeof childSubgraph;
  /**
   * The `/graphql` URL of a peer made before this factory (e.g. `accounts`),
   * for a subgraph that calls another directly: peers listen as soon as they
   * are made. Throws for a subgraph that is not (yet) running.
   */
  readonly peerUrl: (name: string) => string;
}

/** A subgraph as its factory hands it to the harness, with whatever its tests use of it. */
export interface TestSubgraph {
  /** The server to start; stopping the harness closes it (and the stores it owns). */
  readonly server: StartableSubgraph;
  /** Router variables the subgraph must agree on (e.g. `PRESENCE_PREFIX`). */
  readonly routerEnv?: Readonly<Record<string, string>>;
  /** Signs a new user up through the router; accounts offers it. */
  readonly signUp?: (request: RouterRequest, options?: SignUpOptions) => Promise<TestUser>;
}

/**
 * Makes a subgraph for one harness, e.g. `chatSubgraph({ CHAT_BUCKET_MS: '150' })`
 * from `@arcadia/chat/testing`.
 */
export type SubgraphFactory<T extends TestSubgraph = TestSubgraph> = (
  context: SubgraphTestContext,
) => Promise<T>;

/** A GraphQL subscription of a test, and what it has received. */
export interface TestSubscription<TData> {
  /** The `data` of every event, in arrival order. */
  readonly events: readonly TData[];
  /** GraphQL errors of events, and the socket's or server's error. */
  readonly errors: readonly unknown[];
  /** Whether the server completed the subscription. */
  readonly completed: boolean;
  /**
   * The first event `match` accepts, once it has arrived; throws with what
   * did arrive when none does in time.
   */
  waitFor(match: (event: TData) => unknown, what: string): Promise<TData>;
  /** Ends the subscription (the socket stays open until the harness stops). */
  readonly unsubscribe: () => void;
}

/** Options of {@link SubgraphHarness.subscribe}. */
export interface SubscribeOptions<TData> {
  /**
   * The positive signal that the server has taken the subscription, waited
   * for before `subscribe` resolves (it throws when the signal never comes):
   * graphql-ws does not acknowledge a subscription, so without it an event
   * sent right after could be published before anyone listens. Typically the
   * subgraph's Redis channel having a subscriber (`h.subscribers(channel) > 0`);
   * for one that must be refused, its error having arrived.
   */
  live: (subscription: TestSubscription<TData>) => unknown;
  /** A socket to subscribe on; by default a new one of the user's. */
  client?: Client;
  /** The router to connect to when opening a socket (`ws://…`); by default the harness's. */
  url?: string;
}

/** A running subgraph, its peers and a router, for one test file. */
export interface SubgraphHarness<TSubject extends TestSubgraph = TestSubgraph> {
  /** The subgraph under test, as its factory made it. */
  readonly subject: TSubject;
  /** The other subgraphs of the supergraph. */
  readonly peers: readonly TestSubgraph[];
  readonly keys: KeyMaterial;
  readonly supergraph: TestSupergraph;
  /** The router's `http://…/graphql`. */
  readonly url: string;
  /** The router's `ws://…/graphql`. */
  readonly wsUrl: string;
  /** Sends an operation to the router as a client would, with a bearer token when given. */
  request: RouterRequest;
  /** Sends an operation straight to a subgraph, signed for `caller` (anonymous by default). */
  requestSubgraph<TData = Record<string, any>>(
    name: string,
    query: string,
    options?: { variables?: Record<string, unknown>; caller?: Caller },
  ): Promise<GraphQLResponse<TData>>;
  /** A subgraph's own `/graphql` URL. */
  subgraphUrl(name: string): string;
  /** Signs up a new user through the router, with the subgraph that offers sign-up (accounts). */
  signUp(options?: SignUpOptions): Promise<TestUser>;
  /**
   * A graphql-ws client on the router (or `url`), authenticated as `user`
   * when given; the harness closes it when it stops.
   */
  connect(user: TestUser | null, url?: string): Client;
  /**
   * Subscribes as `user` and resolves once `options.live` holds, so what the
   * test sends next is heard.
   */
  subscribe<TData = Record<string, any>>(
    user: TestUser | null,
    operation: { query: string; variables?: Record<string, unknown> },
    options: SubscribeOptions<TData>,
  ): Promise<TestSubscription<TData>>;
  /** Subscribers of a Redis pub/sub channel (`PUBSUB NUMSUB`). */
  subscribers(channel: string): Promise<number>;
  /**
   * Closes the sockets, then the router, then the subgraphs, then what the
   * factories registered, last first (so each factory's stores, queues and
   * buckets go before its databases).
   */
  stop(): Promise<void>;
}

/** A subgraph that already listens at `url`, as {@link startSupergraph} takes one. */
function listening(server: StartableSubgraph, url: string): StartableSubgraph {
  return {
    name: server.name,
    schema: server.schema,
    listen: () => Promise.resolve(url),
    close: () => server.close(),
  };
}

/**
 * Starts `peers` and `subject` (each made by its factory, on stores of this
 * run; each peer listening as soon as it is made, so a later factory can
 * call it) and a router composed from them, all on free ports. `routerEnv`
 * overrides router variables; `env` replaces the process environment the
 * factories read service addresses from.
 */
export async function startSubgraphHarness<TSubject extends TestSubgraph>(options: {
  subject: SubgraphFactory<TSubject>;
  peers?: SubgraphFactory[];
  routerEnv?: Record<string, string>;
  env?: Readonly<Record<string, string | undefined>>;
}): Promise<SubgraphHarness<TSubject>> {
  const env = options.env ?? process.env;
  const keys = await testKeyMaterial();
  const cleanups: (() => unknown)[] = [];
  const runCleanups = async () => {
    const failures: unknown[] = [];
    for (const cleanup of cleanups.splice(0).reverse()) {
      try {
        await cleanup();
      } catch (error) {
        failures.push(error);
      }
    }
    if (failures.length) throw new AggregateError(failures, 'the harness did not stop cleanly');
  };
  const peerUrls = new Map<string, string>();
  const context: SubgraphTestContext = {
    keys,
    env,
    uniqueName,
    async createDatabase(prefix) {
      const db = await createTestDatabase(prefix);
      cleanups.push(() => db.drop());
      return db;
    },
    onStop: (cleanup) => cleanups.push(cleanup),
    childSubgraph,
    peerUrl(name) {
      const url = peerUrls.get(name);
      if (!url) throw new Error(`no peer "${name}" is running yet: list it in peers`);
      return url;
    },
  };

  const made: TestSubgraph[] = [];
  let supergraph: TestSupergraph;
  try {
    for (const factory of options.peers ?? []) {
      const peer = await factory(context);
      made.push(peer);
      peerUrls.set(peer.server.name, await peer.server.listen(0));
    }
    made.push(await options.subject(context));
    supergraph = await startSupergraph({
      // Peers already listen: the supergraph is given their URLs rather than starting them again.
      subgraphs: made.map((s) => {
        const url = peerUrls.get(s.server.name);
        return url ? listening(s.server, url) : s.server;
      }),
      keys,
      routerEnv: Object.assign({}, ...made.map((s) => s.routerEnv ?? {}), options.routerEnv),
    });
  } catch (error) {
    // Nothing may outlive a failed start: the servers close their own stores.
    await Promise.allSettled(made.map((s) => s.server.close()));
    // The start's own error is the one to report; a clean-up failing after it adds nothing.
    await runCleanups().catch(() => undefined);
    throw error;
  }

  const subject = made.at(-1) as TSubject;
  const peers = made.slice(0, -1);
  const wsUrl = supergraph.url.replace(/^http/, 'ws');
  const signCaller = createCallerSigner(keys.internalSecrets);
  const clients = new Set<Client>();
  let redis: RedisConnection | undefined;
  const request: RouterRequest = (query, requestOptions) =>
    supergraph.request(query, requestOptions);

  const subgraphUrl = (name: string) => {
    const url = supergraph.subgraphUrls[name];
    if (!url) throw new Error(`no subgraph "${name}" in this harness`);
    return url;
  };

  const connect = (user: TestUser | null, url = wsUrl) => {
    const client = createClient({
      url,
      webSocketImpl: WebSocket,
      retryAttempts: 0,
      lazy: false,
      connectionParams: user ? { authorization: `Bearer ${user.token}` } : {},
    });
    clients.add(client);
    return client;
  };

  return {
    subject,
    peers,
    keys,
    supergraph,
    url: supergraph.url,
    wsUrl,
    request,
    subgraphUrl,
    async requestSubgraph(name, query, { variables, caller } = {}) {
      const res = await fetch(subgraphUrl(name), {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          [CALLER_HEADER]: await signCaller(caller ?? ANONYMOUS, {
            audience: name,
            request: { query, variables },
          }),
        },
        body: JSON.stringify({ query, variables }),
      });
      return { status: res.status, ...((await res.json()) as object) };
    },
    async signUp(signUpOptions = {}) {
      const accounts = made.find((s) => s.signUp);
      if (!accounts?.signUp) {
        throw new Error('no subgraph of this harness signs users up: add accounts as a peer');
      }
      return accounts.signUp(request, { prefix: subject.server.name, ...signUpOptions });
    },
    connect,
    async subscribe<TData>(
      user: TestUser | null,
      operation: { query: string; variables?: Record<string, unknown> },
      subscribeOptions: SubscribeOptions<TData>,
    ) {
      const client = subscribeOptions.client ?? connect(user, subscribeOptions.url);
      const events: TData[] = [];
      const errors: unknown[] = [];
      let completed = false;
      const received = () => `events ${JSON.stringify(events)}, errors ${JSON.stringify(errors)}`;
      const unsubscribe = client.subscribe<TData>(operation, {
        next: (value) => {
          if (value.errors) errors.push(...value.errors);
          if (value.data) events.push(value.data);
        },
        error: (error) => errors.push(error),
        complete: () => (completed = true),
      });
      const subscription: TestSubscription<TData> = {
        events,
        errors,
        get completed() {
          return completed;
        },
        async waitFor(match, what) {
          return eventually(() => events.find((event) => match(event)), {
            what: () => `${what} never arrived; ${received()}`,
          });
        },
        unsubscribe,
      };
      await eventually(() => subscribeOptions.live(subscription), {
        what: () =>
          `the subscription of ${user?.handle ?? 'an anonymous client'} never went live ` +
          `(${operation.query.replace(/\s+/g, ' ').slice(0, 80)}…); ${received()}`,
      });
      return subscription;
    },
    async subscribers(channel) {
      redis ??= createRedisConnection({
        url: parseEnv('testing', servicesEnv.redis, env).REDIS_URL,
        name: 'test-harness',
        use: 'commands',
      });
      const [, count] = (await redis.pubsub('NUMSUB', channel)) as [string, number | string];
      return Number(count);
    },
    async stop() {
      // Sockets first, so the router shuts down with no client waiting on it.
      await Promise.allSettled([...clients].map(async (client) => client.dispose()));
      clients.clear();
      try {
        // The router, then every subgraph, which close the stores they own.
        await supergraph.stop();
      } finally {
        await redis?.close();
        await runCleanups();
      }
    },
  };
}
