/**
 * Starts the media subgraph: `tsx subgraphs/media/src/index.ts`.
 * Configuration comes from the environment (see env.ts). The images are
 * processed by the media worker (`workers/media/src/index.ts`).
 */
import { runService } from '@arcadia/lifecycle';
import { createQueue, QUEUES } from '@arcadia/queues';
import { parseMediaEnv } from './env.js';
import { createMediaPubSub } from './events.js';
import { createServer } from './server.js';
import { createStorage } from './storage.js';
import { openStore } from './store.js';

await runService({
  name: 'media',
  config: parseMediaEnv,
  async start({ config, logger, keys }) {
    const store = await openStore({ databaseUrl: config.DATABASE_URL, logger });
    const storage = createStorage(config, logger);
    await storage.ensureBuckets({ corsOrigins: config.MEDIA_UPLOAD_CORS_ORIGINS });
    const queue = createQueue(QUEUES.media, {
      connection: { url: config.REDIS_URL },
      prefix: config.QUEUE_PREFIX,
      logger,
      retry: { attempts: config.MEDIA_JOB_ATTEMPTS, backoffMs: config.MEDIA_JOB_BACKOFF_MS },
    });
    const pubsub = createMediaPubSub({
      redisUrl: config.REDIS_URL,
      prefix: config.PUBSUB_PREFIX,
      logger,
    });
    return createServer({ config, keys, store, storage, queue, pubsub, logger });
  },
});
