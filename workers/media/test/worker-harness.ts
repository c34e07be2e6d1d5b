/** Runs media workers in the test process against a media harness' queue, database and buckets. */
import type { MediaStorage } from '@arcadia/media/storage';
import type { MediaHarness } from '@arcadia/media/testing';
import { parseMediaWorkerEnv } from '../src/env.js';
import { startMediaWorker, type MediaWorker } from '../src/run.js';

/** A worker on `h`'s queue; `storage` replaces the real one (fault injection), `env` tunes it. */
export function startWorker(
  h: MediaHarness,
  options: { storage?: MediaStorage; env?: Record<string, string> } = {},
): MediaWorker {
  const config = parseMediaWorkerEnv({
    LOG_LEVEL: 'silent',
    REDIS_URL: h.config.REDIS_URL,
    QUEUE_PREFIX: h.config.QUEUE_PREFIX,
    PUBSUB_PREFIX: h.config.PUBSUB_PREFIX,
    DATABASE_URL: h.config.DATABASE_URL,
    MEDIA_CONCURRENCY: '2',
    // The sweeper is driven by the tests themselves.
    MEDIA_SWEEP_INTERVAL_SECONDS: '3600',
    ...options.env,
  });
  return startMediaWorker({
    config,
    store: h.store,
    storage: options.storage ?? h.storage,
    pubsub: h.pubsub,
    queue: h.queue,
    logger: h.logger,
  });
}
