/**
 * Starts the chat subgraph: `tsx subgraphs/chat/src/index.ts`.
 * Configuration comes from the environment (see env.ts). Push notifications
 * are sent by the push worker (`workers/push/worker.ts`).
 */
import { join } from 'node:path';
import { loadKeyMaterial } from '@arcadia/auth';
import { createLogger } from '@arcadia/observability';
import { createPresence } from '@arcadia/presence';
import { createPushDevices, createPushNotifier } from '@arcadia/push';
import { closeOnSignals } from '@arcadia/subgraph-kit';
import { parseChatEnv } from './env.js';
import { createChatPubSub } from './events.js';
import { createServer } from './server.js';
import { openStore } from './store/index.js';

const config = parseChatEnv();
const logger = createLogger('chat', config.LOG_LEVEL);
const keys = await loadKeyMaterial({
  jwtKeysJson: config.JWT_KEYS,
  internalSecrets: config.INTERNAL_SECRETS,
  localFile: join(config.ARCADIA_HOME, 'keys.json'),
});
const store = await openStore(config, logger);
const server = createServer({
  config,
  keys,
  store,
  pubsub: createChatPubSub({ redisUrl: config.REDIS_URL, prefix: config.PUBSUB_PREFIX }),
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
  }),
  logger,
});
await server.listen(config.PORT, config.HOST);
closeOnSignals(() => server.close(), logger);
