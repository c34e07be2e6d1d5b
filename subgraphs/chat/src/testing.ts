/**
 * The chat subgraph for tests and benchmarks (`@arcadia/chat/testing`): the
 * factory `startSubgraphHarness` from `@arcadia/testing` starts it with, on
 * a database, keyspace and Redis prefixes of the harness' own, so files run
 * in parallel without seeing each other.
 */
import { fileURLToPath } from 'node:url';
import { dropKeyspace } from '@arcadia/cassandra';
import { createLogger } from '@arcadia/observability';
import { createPresence, type Presence } from '@arcadia/presence';
import { createPushDevices, createPushNotifier, type PushNotifier } from '@arcadia/push';
import type {
  StartableSubgraph,
  SubgraphFactory,
  TestDatabase,
  TestSubgraph,
} from '@arcadia/testing';
import { createAccountsDirectory } from './accounts-client.js';
import type { MessagingPolicy } from './domain/index.js';
import { parseChatEnv, type ChatConfig } from './env.js';
import { createChatPubSub, userTrigger } from './events.js';
import { createServer, typeDefs } from './server.js';
import { openStore, type Store } from './store/index.js';

/** The chat subgraph of one harness, and handles on its stores for assertions. */
export interface ChatUnderTest extends TestSubgraph {
  readonly config: ChatConfig;
  /** The conversations database (`query` for assertions). */
  readonly db: TestDatabase;
  /** A second handle on the chat stores (the server closes its own). */
  readonly store: Store;
  /** The push queue's producer of this run's prefix (to inspect jobs). */
  readonly push: PushNotifier;
  /** Who is online, as the router records it. */
  readonly presence: Presence;
  /** The Redis channel of a user's events: their `chatEvents` is live once it has a subscriber. */
  userChannel(userId: string): string;
}

/**
 * Chat on stores and prefixes of the harness' own; `env` overrides chat
 * variables. With `childProcess`, chat runs as its own Node process from
 * `src/index.ts` (benchmarks), else in the test's.
 * Needs accounts among the harness' peers: chat asks it whether members exist.
 */
export function chatSubgraph(
  env: Record<string, string> = {},
  options: {
    childProcess?: boolean;
    /** The messaging policy in place of social's blocks (in-process only). */
    canMessage?: MessagingPolicy;
  } = {},
): SubgraphFactory<ChatUnderTest> {
  return async (context) => {
    const name = context.uniqueName('chat');
    const db = await context.createDatabase('chat');
    const chatEnv = {
      ...context.env,
      LOG_LEVEL: 'silent',
      CASSANDRA_KEYSPACE: name,
      QUEUE_PREFIX: name,
      PUBSUB_PREFIX: name,
      REDIS_KEY_PREFIX: `${name}:`,
      PRESENCE_PREFIX: `${name}:`,
      PUSH_PREFIX: `${name}:`,
      PUSH_ALLOW_INSECURE_ENDPOINTS: 'true',
      // Chat asks accounts whether members exist: the harness' accounts peer.
      ACCOUNTS_URL: context.peerUrl('accounts'),
      ...env,
      DATABASE_URL: db.url,
    };
    const config = parseChatEnv(chatEnv);
    const logger = createLogger('chat', config.LOG_LEVEL);
    const notifier = () =>
      createPushNotifier({
        connection: { url: config.REDIS_URL },
        prefix: config.QUEUE_PREFIX,
        collapseWindowMs: config.PUSH_COLLAPSE_WINDOW_MS,
        logger,
      });

    context.onStop(() =>
      dropKeyspace({
        contactPoints: config.CASSANDRA_CONTACT_POINTS,
        localDataCenter: config.CASSANDRA_LOCAL_DATACENTER,
        keyspace: config.CASSANDRA_KEYSPACE,
      }),
    );
    // Opened first, so the keyspace and tables exist before a child process starts.
    const store = await openStore(config, logger);
    context.onStop(() => store.close());
    const push = notifier();
    context.onStop(async () => {
      await push.queue.queue.obliterate({ force: true });
      await push.close();
    });

    let server: StartableSubgraph;
    if (options.childProcess) {
      server = context.childSubgraph({
        name: 'chat',
        typeDefs,
        entry: fileURLToPath(new URL('./index.ts', import.meta.url)),
        env: {
          ...chatEnv,
          JWT_KEYS: JSON.stringify({ keys: context.keys.jwtKeys }),
          INTERNAL_SECRETS: context.keys.internalSecrets.join(','),
        },
      });
    } else {
      // The server closes its own stores, pub/sub and push queue.
      const serverStore = await openStore(config, logger);
      server = createServer({
        config,
        keys: context.keys,
        store: serverStore,
        pubsub: createChatPubSub({
          redisUrl: config.REDIS_URL,
          prefix: config.PUBSUB_PREFIX,
          logger,
        }),
        presence: createPresence({
          redis: serverStore.live.redis,
          prefix: config.PRESENCE_PREFIX,
        }),
        devices: createPushDevices({
          redis: serverStore.live.redis,
          prefix: config.PUSH_PREFIX,
          allowInsecure: true,
        }),
        push: notifier(),
        ...(options.canMessage ? { canMessage: options.canMessage } : {}),
        users: createAccountsDirectory({
          url: config.ACCOUNTS_URL,
          internalSecrets: context.keys.internalSecrets,
          timeoutMs: config.ACCOUNTS_TIMEOUT_MS,
          logger,
        }),
        logger,
      });
    }

    return {
      server,
      // The router writes presence where chat reads it; a short TTL ends it soon after a test.
      routerEnv: { PRESENCE_PREFIX: config.PRESENCE_PREFIX, PRESENCE_TTL_SECONDS: '5' },
      config,
      db,
      store,
      push,
      presence: createPresence({ redis: store.live.redis, prefix: config.PRESENCE_PREFIX }),
      userChannel: (userId) => `${config.PUBSUB_PREFIX}:chat:${userTrigger(userId)}`,
    };
  };
}
