/**
 * Starts the media worker: `tsx workers/media/src/index.ts`. Configuration
 * comes from the environment (see env.ts); run as many instances as wanted.
 * SIGTERM lets running jobs finish, then exits. `/health`, `/ready` and
 * `/metrics` are served on PORT.
 */
import sharp from 'sharp';
import { runService, workerService } from '@arcadia/lifecycle';
import { createMediaPubSub, createStorage, openStore } from '@arcadia/media/domain';
import { createQueue, QUEUES } from '@arcadia/queues';
import { parseMediaWorkerEnv } from './env.js';
import { startMediaWorker } from './run.js';

await runService({
  name: 'media-worker',
  config: parseMediaWorkerEnv,
  async start({ config, logger }) {
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
    const pubsub = createMediaPubSub({
      redisUrl: config.REDIS_URL,
      prefix: config.PUBSUB_PREFIX,
      logger,
    });
    const queue = createQueue(QUEUES.media, {
      connection: { url: config.REDIS_URL },
      prefix: config.QUEUE_PREFIX,
      logger,
      retry: { attempts: config.MEDIA_JOB_ATTEMPTS, backoffMs: config.MEDIA_JOB_BACKOFF_MS },
    });
    const worker = startMediaWorker({ config, store, storage, pubsub, queue, logger });
    return workerService({
      name: 'media-worker',
      logger,
      readiness: () => store.ping(),
      async close() {
        await worker.close();
        await Promise.allSettled([queue.close(), pubsub.close()]);
        storage.close();
        await store.close();
      },
    });
  },
});
