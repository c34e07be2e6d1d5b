/**
 * Starts the media subgraph: `tsx subgraphs/media/src/index.ts`.
 * Configuration comes from the environment (see env.ts). The images are
 * processed by the media worker (`workers/media/worker.ts`).
 */
import { join } from 'node:path';
import { loadKeyMaterial } from '@arcadia/auth';
import { createLogger } from '@arcadia/observability';
import { createQueue, QUEUES } from '@arcadia/queues';
import { closeOnSignals } from '@arcadia/subgraph-kit';
import { parseMediaEnv } from './env.js';
import { createMediaPubSub } from './events.js';
import { createServer } from './server.js';
import { createStorage } from './storage.js';
import { openStore } from './store.js';

const config = parseMediaEnv();
const logger = createLogger('media', config.LOG_LEVEL);
const keys = await loadKeyMaterial({
  jwtKeysJson: config.JWT_KEYS,
  internalSecrets: config.INTERNAL_SECRETS,
  localFile: join(config.ARCADIA_HOME, 'keys.json'),
});
const store = await openStore({ databaseUrl: config.DATABASE_URL, logger });
const storage = createStorage(config, logger);
await storage.ensureBuckets({ corsOrigins: config.MEDIA_UPLOAD_CORS_ORIGINS });
const queue = createQueue(QUEUES.media, {
  connection: { url: config.REDIS_URL },
  prefix: config.QUEUE_PREFIX,
  retry: { attempts: config.MEDIA_JOB_ATTEMPTS, backoffMs: config.MEDIA_JOB_BACKOFF_MS },
});
const pubsub = createMediaPubSub({ redisUrl: config.REDIS_URL, prefix: config.PUBSUB_PREFIX });
const server = createServer({ config, keys, store, storage, queue, pubsub, logger });
await server.listen(config.PORT, config.HOST);
closeOnSignals(() => server.close(), logger);
