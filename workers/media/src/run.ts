/**
 * Wires the processor and the sweeper to BullMQ: what `worker.ts` starts,
 * and what tests start in process with their own prefix.
 */
import type { Logger } from '@arcadia/observability';
import { QUEUES, runWorker, type TypedQueue } from '@arcadia/queues';
import { processImage, type ProcessorDeps } from './processor.js';
import type { MediaWorkerConfig } from './env.js';
import { startSweeper } from './sweeper.js';

/** What a media worker instance is made of. */
export interface MediaWorkerDeps extends Omit<ProcessorDeps, 'config'> {
  readonly config: Pick<
    MediaWorkerConfig,
    | 'REDIS_URL'
    | 'QUEUE_PREFIX'
    | 'MEDIA_CONCURRENCY'
    | 'MEDIA_MAX_PIXELS'
    | 'MEDIA_LOCK_DURATION_MS'
    | 'MEDIA_STALLED_INTERVAL_MS'
    | 'MEDIA_STUCK_AFTER_SECONDS'
    | 'MEDIA_SWEEP_INTERVAL_SECONDS'
    | 'MEDIA_MAX_SWEEPS'
  >;
  /** The media queue, for the sweeper to add jobs to. */
  readonly queue: TypedQueue<'media'>;
  readonly logger: Logger;
}

/** A running media worker. */
export interface MediaWorker {
  /**
   * Stops: no new jobs, running ones finish first (graceful); with `force`,
   * running jobs are abandoned to be taken over by another worker.
   */
  close(force?: boolean): Promise<void>;
}

/** Starts processing media jobs, and sweeping for stuck images. */
export function startMediaWorker(deps: MediaWorkerDeps): MediaWorker {
  const { config, logger } = deps;
  const connection = { url: config.REDIS_URL };
  const processorDeps: ProcessorDeps = {
    ...deps,
    config: { maxPixels: config.MEDIA_MAX_PIXELS },
  };
  const worker = runWorker(QUEUES.media, (job) => processImage(job, processorDeps), {
    connection,
    prefix: config.QUEUE_PREFIX,
    concurrency: config.MEDIA_CONCURRENCY,
    lockDurationMs: config.MEDIA_LOCK_DURATION_MS,
    stalledIntervalMs: config.MEDIA_STALLED_INTERVAL_MS,
    onFailed: (job, error) => logger.debug({ job, err: error.message }, 'media job run failed'),
    onError: (error) => logger.warn({ err: error }, 'media worker connection problem'),
  });
  const sweeper = startSweeper({
    ...deps,
    redisUrl: config.REDIS_URL,
    lockKey: `${config.QUEUE_PREFIX}:media-sweeper:lock`,
    intervalMs: config.MEDIA_SWEEP_INTERVAL_SECONDS * 1000,
    stuckAfterSeconds: config.MEDIA_STUCK_AFTER_SECONDS,
    maxSweeps: config.MEDIA_MAX_SWEEPS,
  });
  logger.info(
    { concurrency: config.MEDIA_CONCURRENCY, prefix: config.QUEUE_PREFIX },
    'media worker started',
  );
  return {
    async close(force = false) {
      await Promise.all([worker.close(force), sweeper.close()]);
    },
  };
}
