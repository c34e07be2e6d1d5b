/**
 * Starts the chat subgraph: `tsx subgraphs/chat/src/index.ts`.
 * Configuration comes from the environment (see env.ts). Push notifications
 * are sent by the push worker (`workers/push/src/index.ts`).
 */
import { runService } from '@arcadia/lifecycle';
import { createPresence } from '@arcadia/presence';
import { createPushDevices, createPushNotifier } from '@arcadia/push';
import { createAccountsDirectory } from './accounts-client.js';
import { parseChatEnv } from './env.js';
import { createChatPubSub } from './events.js';
import { createServer } from './server.js';
import { openStore } from './store/index.js';

await runService({
  name: 'chat',
  config: parseChatEnv,
  async start({ config, logger, keys }) {
    const store = await openStore(config, logger);
    return createServer({
      config,
      keys,
      store,
      pubsub: createChatPubSub({
        redisUrl: config.REDIS_URL,
        prefix: config.PUBSUB_PREFIX,
        logger,
      }),
      presence: createPresence({ redis: store.live.redis, prefix: config.PRESENCE_PREFIX }),
      devices: createPushDevices({
        redis: store.live.redis,
        prefix: config.PUSH_PREFIX,
        allowInsecure: config.PUSH_ALLOW_INSECURE_ENDPOINTS,
      }),
      push: createPushNotifier({
        connection: { url: config.REDIS_URL },
        prefix: config.QUEUE_PREFIX,
        collapseWindowMs: config.PUSH_COLLAPSE_WINDOW_MS,
        logger,
      }),
      users: createAccountsDirectory({
        url: config.ACCOUNTS_URL,
        internalSecrets: keys.internalSecrets,
        timeoutMs: config.ACCOUNTS_TIMEOUT_MS,
        logger,
      }),
      logger,
    });
  },
});
