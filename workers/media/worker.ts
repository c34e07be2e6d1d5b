/**
 * Starts the media worker: `tsx workers/media/worker.ts`. Configuration comes
 * from the environment (see src/env.ts); run as many instances as wanted.
 * SIGTERM lets running jobs finish, then exits.
 */
import sharp from 'sharp';
import { createMediaPubSub } from '@arcadia/media/events';
import { createStorage } from '@arcadia/media/storage';
import { openStore } from '@arcadia/media/store';
import { createLogger } from '@arcadia/observability';
import { createQueue, QUEUES } from '@arcadia/queues';
import { closeOnSignals } from '@arcadia/subgraph-kit';
import { parseMediaWorkerEnv } from './src/env.js';
import { startMediaWorker } from './src/run.js';

const config = parseMediaWorkerEnv();
const logger = createLogger('media-worker', config.LOG_LEVEL);

// libvips' own threads per image; jobs in parallel come from MEDIA_CONCURRENCY.
sharp.concurrency(config.SHARP_CONCURRENCY);
// Every image is new: libvips' operation cache would only hold memory.
sharp.cache(false);

const store = await openStore({
  databaseUrl: config.DATABASE_URL,
  logger,
  poolSize: config.DATABASE_POOL_SIZE,
});
const storage = createStorage(config, logger);
await storage.ensureBuckets();
const pubsub = createMediaPubSub({ redisUrl: config.REDIS_URL, prefix: config.PUBSUB_PREFIX });
const queue = createQueue(QUEUES.media, {
  connection: { url: config.REDIS_URL },
  prefix: config.QUEUE_PREFIX,
  retry: { attempts: config.MEDIA_JOB_ATTEMPTS, backoffMs: config.MEDIA_JOB_BACKOFF_MS },
});
const worker = startMediaWorker({ config, store, storage, pubsub, queue, logger });

closeOnSignals(async () => {
  await worker.close();
  await Promise.allSettled([queue.close(), pubsub.close()]);
  storage.close();
  await store.close();
}, logger);
