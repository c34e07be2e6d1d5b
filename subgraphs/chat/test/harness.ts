/**
 * Starts the chat subgraph with the accounts subgraph behind the real router
 * (`startSupergraph`), for one test file or benchmark: its own databases,
 * keyspace, Redis prefixes and queue prefix, so files run in parallel
 * without seeing each other.
 */
import { fileURLToPath } from 'node:url';
import { createClient, type Client } from 'graphql-ws';
import { Redis } from 'ioredis';
import WebSocket from 'ws';
import { startAccountsPeer, type PeerUser } from '@arcadia/accounts/testing';
import type { KeyMaterial } from '@arcadia/auth';
import { dropKeyspace } from '@arcadia/cassandra';
import { createLogger } from '@arcadia/observability';
import { createPresence, type Presence } from '@arcadia/presence';
import { createPushDevices, createPushNotifier, type PushNotifier } from '@arcadia/push';
import {
  childSubgraph,
  createTestDatabase,
  startSupergraph,
  testKeyMaterial,
  uniqueName,
  type GraphQLResponse,
  type StartableSubgraph,
  type TestDatabase,
  type TestSupergraph,
} from '@arcadia/testing';
import { parseChatEnv, type ChatConfig } from '../src/env.js';
import { createChatPubSub } from '../src/events.js';
import { createServer, typeDefs } from '../src/server.js';
import { openStore, type Store } from '../src/store/index.js';

export type { GraphQLResponse };

/** A signed-up user of the test supergraph. */
export type TestUser = PeerUser;

/** The running supergraph of one test file. */
export interface ChatHarness {
  readonly config: ChatConfig;
  readonly keys: KeyMaterial;
  /** A second handle on the chat stores, for assertions. */
  readonly store: Store;
  /** The push queue's producer of this file's prefix (to inspect jobs). */
  readonly push: PushNotifier;
  readonly presence: Presence;
  readonly supergraph: TestSupergraph;
  /** `ws://…/graphql` of the router. */
  readonly wsUrl: string;
  request<TData = Record<string, any>>(
    query: string,
    options?: { variables?: Record<string, unknown>; token?: string | null },
  ): Promise<GraphQLResponse<TData>>;
  /** Signs up a new user through the router. */
  signUp(): Promise<TestUser>;
  /** A graphql-ws client of `user` on the router (or on `url`), closed by `stop()`. */
  connect(user: TestUser, url?: string): Client;
  stop(): Promise<void>;
}

/**
 * Starts accounts + chat + router on fresh stores; `env` overrides chat
 * variables. With `childProcess`, chat runs as its own Node process from
 * `src/index.ts` (benchmarks), else in this one (tests).
 */
export async function startChat(
  env: Record<string, string> = {},
  options: { childProcess?: boolean } = {},
): Promise<ChatHarness> {
  const name = uniqueName('chat');
  const chatDb: TestDatabase = await createTestDatabase('chat');
  const keys = await testKeyMaterial();
  const accounts = await startAccountsPeer(keys);
  const chatEnv = {
    ...process.env,
    LOG_LEVEL: 'silent',
    CASSANDRA_KEYSPACE: name,
    QUEUE_PREFIX: name,
    PUBSUB_PREFIX: name,
    REDIS_KEY_PREFIX: `${name}:`,
    PRESENCE_PREFIX: `${name}:`,
    PUSH_PREFIX: `${name}:`,
    PUSH_ALLOW_INSECURE_ENDPOINTS: 'true',
    ...env,
    DATABASE_URL: chatDb.url,
  };
  const config = parseChatEnv(chatEnv);
  const logger = createLogger('chat', config.LOG_LEVEL);

  const notifier = () =>
    createPushNotifier({
      connection: { url: config.REDIS_URL },
      prefix: config.QUEUE_PREFIX,
      collapseWindowMs: config.PUSH_COLLAPSE_WINDOW_MS,
    });
  let chat: StartableSubgraph;
  if (options.childProcess) {
    chat = childSubgraph({
      name: 'chat',
      typeDefs,
      entry: fileURLToPath(new URL('../src/index.ts', import.meta.url)),
      env: {
        ...chatEnv,
        JWT_KEYS: JSON.stringify({ keys: keys.jwtKeys }),
        INTERNAL_SECRETS: keys.internalSecrets.join(','),
      },
    });
  } else {
    const serverStore = await openStore(config, logger);
    chat = createServer({
      config,
      keys,
      store: serverStore,
      pubsub: createChatPubSub({ redisUrl: config.REDIS_URL, prefix: config.PUBSUB_PREFIX }),
      presence: createPresence({ redis: serverStore.live.redis, prefix: config.PRESENCE_PREFIX }),
      devices: createPushDevices({
        redis: serverStore.live.redis,
        prefix: config.PUSH_PREFIX,
        allowInsecure: true,
      }),
      push: notifier(),
      logger,
    });
  }
  const supergraph = await startSupergraph({
    subgraphs: [accounts.subgraph, chat],
    keys,
    routerEnv: { PRESENCE_PREFIX: config.PRESENCE_PREFIX, PRESENCE_TTL_SECONDS: '5' },
  });
  const store = await openStore(config, logger);
  const push = notifier();
  const redis = new Redis(config.REDIS_URL);
  const presence = createPresence({ redis, prefix: config.PRESENCE_PREFIX });
  const clients: Client[] = [];

  const request: ChatHarness['request'] = (query, options) => supergraph.request(query, options);

  return {
    config,
    keys,
    store,
    push,
    presence,
    supergraph,
    wsUrl: supergraph.url.replace(/^http/, 'ws'),
    request,
    signUp: () => accounts.signUp(request, { prefix: 'chat' }),
    connect(user, url) {
      const client = createClient({
        url: url ?? supergraph.url.replace(/^http/, 'ws'),
        webSocketImpl: WebSocket,
        retryAttempts: 0,
        lazy: false,
        connectionParams: { authorization: `Bearer ${user.token}` },
      });
      clients.push(client);
      return client;
    },
    async stop() {
      for (const client of clients) void client.dispose();
      await supergraph.stop();
      await Promise.allSettled([push.queue.queue.obliterate({ force: true })]);
      await Promise.allSettled([push.close(), store.close()]);
      redis.disconnect();
      await Promise.allSettled([
        chatDb.drop(),
        accounts.drop(),
        dropKeyspace({
          contactPoints: config.CASSANDRA_CONTACT_POINTS,
          localDataCenter: config.CASSANDRA_LOCAL_DATACENTER,
          keyspace: config.CASSANDRA_KEYSPACE,
        }),
      ]);
    },
  };
}
