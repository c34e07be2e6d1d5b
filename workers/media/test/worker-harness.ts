/** Runs media workers in the test process against the harness' media queue, database and buckets. */
import type { MediaStorage } from '@arcadia/media/domain';
import type { MediaUnderTest } from '@arcadia/media/testing';
import { parseMediaWorkerEnv } from '../src/env.js';
import { startMediaWorker, type MediaWorker } from '../src/run.js';

/** A worker on `media`'s queue; `storage` replaces the real one (fault injection), `env` tunes it. */
export function startWorker(
  media: MediaUnderTest,
  options: { storage?: MediaStorage; env?: Record<string, string> } = {},
): MediaWorker {
  const config = parseMediaWorkerEnv({
    LOG_LEVEL: 'silent',
    REDIS_URL: media.config.REDIS_URL,
    QUEUE_PREFIX: media.config.QUEUE_PREFIX,
    PUBSUB_PREFIX: media.config.PUBSUB_PREFIX,
    DATABASE_URL: media.config.DATABASE_URL,
    MEDIA_CONCURRENCY: '2',
    // The sweeper is driven by the tests themselves.
    MEDIA_SWEEP_INTERVAL_SECONDS: '3600',
    ...options.env,
  });
  return startMediaWorker({
    config,
    store: media.store,
    storage: options.storage ?? media.storage,
    pubsub: media.pubsub,
    queue: media.queue,
    logger: media.logger,
  });
}
